output "zone_id" {
  description = "ID of the hosted zone."
  value       = local.zone_id
}

output "zone_name" {
  description = "Name of the hosted zone."
  value       = var.zone_name
}

output "name_servers" {
  description = "Name servers to delegate the zone to."
  value       = local.name_servers
}
