output "prefix" {
  description = "SSM path prefix of every parameter."
  value       = var.prefix
}

output "parameter_arns" {
  description = "Parameter ARNs keyed by path relative to the prefix (db/host, ..., api/token)."
  value = merge(
    { for k, p in aws_ssm_parameter.plain : k => p.arn },
    { "api/token" = local.api_token_arn },
  )
}

output "parameter_names" {
  description = "Full parameter names keyed by path relative to the prefix."
  value = merge(
    { for k, p in aws_ssm_parameter.plain : k => p.name },
    { "api/token" = local.api_token_name },
  )
}
