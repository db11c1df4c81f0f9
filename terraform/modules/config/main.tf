locals {
  plain = {
    "db/host"               = var.db_host
    "db/port"               = tostring(var.db_port)
    "db/name"               = var.db_name
    "sqs/inbound_queue_url" = var.inbound_queue_url
    "s3/raw_mail_bucket"    = var.raw_mail_bucket
    "s3/attachments_bucket" = var.attachments_bucket
  }

  api_token_managed = nonsensitive(var.api_token != null)
  api_token_name    = "${var.prefix}api/token"
}

resource "aws_ssm_parameter" "plain" {
  for_each = local.plain

  name        = "${var.prefix}${each.key}"
  description = "mailstack configuration: ${each.key}"
  type        = "String"
  tier        = "Standard"
  value       = each.value
}

# API token, mode 1: the value comes from var.api_token and terraform keeps it in sync.
resource "aws_ssm_parameter" "api_token" {
  count = local.api_token_managed ? 1 : 0

  name        = local.api_token_name
  description = "mailstack API bearer token (managed by terraform)"
  type        = "SecureString"
  tier        = "Standard"
  key_id      = var.kms_key_arn
  value       = var.api_token
}

# API token, mode 2 (default): created once with a placeholder that operators replace with
# `aws ssm put-parameter --overwrite`; terraform never reads the real value back into a diff.
resource "aws_ssm_parameter" "api_token_unmanaged" {
  count = local.api_token_managed ? 0 : 1

  name        = local.api_token_name
  description = "mailstack API bearer token (value rotated out of band, ignored by terraform)"
  type        = "SecureString"
  tier        = "Standard"
  key_id      = var.kms_key_arn
  value       = "placeholder-rotate-me"

  lifecycle {
    ignore_changes = [value]

    precondition {
      condition     = !contains(var.protected_environments, var.environment)
      error_message = "api_token must be set (e.g. TF_VAR_api_token from the secret store) in a production environment."
    }
  }
}

locals {
  api_token_arn = local.api_token_managed ? aws_ssm_parameter.api_token[0].arn : aws_ssm_parameter.api_token_unmanaged[0].arn
}
