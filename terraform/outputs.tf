# ================================================================ identity
output "name" {
  description = "Name prefix of every resource (<name>-<environment>)."
  value       = local.name
}

output "environment" {
  description = "Environment name."
  value       = var.environment
}

output "region" {
  description = "AWS region."
  value       = var.region
}

# ================================================================ network
output "vpc_id" {
  description = "VPC ID."
  value       = module.network.vpc_id
}

output "public_subnet_ids" {
  description = "Public subnet IDs."
  value       = module.network.public_subnet_ids
}

output "private_subnet_ids" {
  description = "Private (ECS) subnet IDs."
  value       = module.network.private_subnet_ids
}

output "database_subnet_ids" {
  description = "Database subnet IDs."
  value       = module.network.database_subnet_ids
}

output "security_group_ids" {
  description = "Security groups (alb, ecs, db)."
  value = {
    alb = module.network.alb_security_group_id
    ecs = module.network.ecs_security_group_id
    db  = module.network.db_security_group_id
  }
}

# ================================================================ DNS / encryption
output "route53_zone_id" {
  description = "Hosted zone of the mail domain and API hostname."
  value       = module.dns.zone_id
}

output "route53_name_servers" {
  description = "Name servers to delegate the zone to."
  value       = module.dns.name_servers
}

output "kms_key_arn" {
  description = "Customer-managed KMS key."
  value       = module.kms.key_arn
}

# ================================================================ mail ingest
output "mail_domain" {
  description = "Domain that receives mail."
  value       = module.mail_ingest.mail_domain
}

output "raw_mail_bucket" {
  description = "Raw-mail bucket name."
  value       = module.mail_ingest.raw_mail_bucket_name
}

output "attachments_bucket" {
  description = "Attachments bucket name."
  value       = module.mail_ingest.attachments_bucket_name
}

output "inbound_prefix" {
  description = "Key prefix SES stores raw mail under."
  value       = module.mail_ingest.inbound_prefix
}

output "inbound_topic_arn" {
  description = "SNS topic SES publishes received mail to."
  value       = module.mail_ingest.inbound_topic_arn
}

output "api_webhook_url" {
  description = "Endpoint of the API webhook subscribed to the inbound topic."
  value       = local.api_webhook_url
}

output "inbound_debug_queue_url" {
  description = "Inbound debug queue URL (null when disabled)."
  value       = module.mail_ingest.debug_queue_url
}

output "receipt_rule_set_name" {
  description = "Active SES receipt rule set."
  value       = module.mail_ingest.receipt_rule_set_name
}

output "receipt_rule_name" {
  description = "SES receipt rule storing mail in S3 and notifying the inbound topic."
  value       = module.mail_ingest.receipt_rule_name
}

# ================================================================ queues
output "queue_urls" {
  description = "Main queue URLs by key (inbound, outbound, telemetry, webhooks)."
  value       = module.queues.queue_urls
}

output "queue_arns" {
  description = "Main queue ARNs by key."
  value       = module.queues.queue_arns
}

output "dlq_urls" {
  description = "Dead-letter queue URLs by key."
  value       = module.queues.dlq_urls
}

output "dlq_arns" {
  description = "Dead-letter queue ARNs by key."
  value       = module.queues.dlq_arns
}

output "inbound_queue_url" {
  description = "Inbound queue URL (S3 notifications, worker)."
  value       = module.queues.queue_urls["inbound"]
}

# ================================================================ database
output "db_endpoint" {
  description = "RDS endpoint (host:port)."
  value       = module.database.endpoint
}

output "db_address" {
  description = "RDS host name."
  value       = module.database.address
}

output "db_port" {
  description = "RDS port."
  value       = module.database.port
}

output "db_name" {
  description = "Application database name."
  value       = module.database.db_name
}

output "db_instance_identifier" {
  description = "RDS instance identifier."
  value       = module.database.instance_identifier
}

output "db_master_user_secret_arn" {
  description = "RDS-managed master user secret (JSON keys username, password)."
  value       = module.database.master_user_secret_arn
}

# ================================================================ config
output "ssm_prefix" {
  description = "SSM prefix of the service configuration."
  value       = local.ssm_prefix
}

output "ssm_parameter_names" {
  description = "SSM parameter names keyed by path under the prefix."
  value       = module.config.parameter_names
}

# ================================================================ compute
output "ecs_cluster_name" {
  description = "ECS cluster name."
  value       = module.compute.cluster_name
}

output "ecs_cluster_arn" {
  description = "ECS cluster ARN."
  value       = module.compute.cluster_arn
}

output "ecs_service_names" {
  description = "ECS services (api, worker)."
  value       = module.compute.service_names
}

output "task_definition_arns" {
  description = "Task definition ARNs (api, worker, migrate)."
  value       = module.compute.task_definition_arns
}

output "migrate_task_definition_arn" {
  description = "One-shot migration task definition (run it with ecs run-task before rolling the services)."
  value       = module.compute.task_definition_arns["migrate"]
}

output "ecr_repository_urls" {
  description = "ECR repository URLs (api, worker)."
  value       = module.compute.ecr_repository_urls
}

output "log_group_names" {
  description = "CloudWatch log groups (api, worker, migrate)."
  value       = module.compute.log_group_names
}

output "task_role_arns" {
  description = "Task roles (api, worker)."
  value       = module.compute.task_role_arns
}

output "execution_role_arn" {
  description = "Task execution role."
  value       = module.compute.execution_role_arn
}

# ================================================================ edge
output "alb_arn" {
  description = "ALB ARN."
  value       = module.edge.alb_arn
}

output "alb_dns_name" {
  description = "ALB DNS name."
  value       = module.edge.alb_dns_name
}

output "target_group_arn" {
  description = "API target group ARN."
  value       = module.edge.target_group_arn
}

output "http_listener_arn" {
  description = ":80 listener (redirects to HTTPS)."
  value       = module.edge.http_listener_arn
}

output "https_listener_arn" {
  description = ":443 listener."
  value       = module.edge.https_listener_arn
}

output "certificate_arn" {
  description = "ACM certificate of the API hostname."
  value       = module.edge.certificate_arn
}

output "api_url" {
  description = "Public API URL."
  value       = module.edge.api_url
}

output "web_acl_arn" {
  description = "WAF web ACL (null when disabled)."
  value       = module.edge.web_acl_arn
}

# ================================================================ monitoring
output "ops_alerts_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = module.monitoring.ops_alerts_topic_arn
}

output "alarm_names" {
  description = "Operational alarms by kind and key."
  value       = module.monitoring.alarm_names
}

output "autoscaling_alarm_names" {
  description = "Worker autoscaling alarms (high, low)."
  value       = module.compute.worker_autoscaling_alarm_names
}
