resource "aws_route53_zone" "this" {
  count = var.create_zone ? 1 : 0

  name          = var.zone_name
  comment       = "mailstack: mail domain and API records"
  force_destroy = var.force_destroy

  tags = { Name = var.zone_name }
}

data "aws_route53_zone" "existing" {
  count = var.create_zone ? 0 : 1

  zone_id      = var.zone_id != "" ? var.zone_id : null
  name         = var.zone_id == "" ? var.zone_name : null
  private_zone = false
}

locals {
  zone_id      = var.create_zone ? aws_route53_zone.this[0].zone_id : data.aws_route53_zone.existing[0].zone_id
  name_servers = var.create_zone ? aws_route53_zone.this[0].name_servers : data.aws_route53_zone.existing[0].name_servers
}
