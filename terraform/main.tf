locals {
  name       = "${var.name}-${var.environment}"
  ssm_prefix = "/${var.name}/${var.environment}/"

  api_webhook_url = "https://${var.api_hostname}/v1/webhooks/aws/sns"
}

data "aws_availability_zones" "available" {
  state = "available"

  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

check "dns_names_inside_zone" {
  assert {
    condition = (
      endswith(var.mail_domain, ".${var.route53_zone_name}") || var.mail_domain == var.route53_zone_name
      ) && (
      endswith(var.api_hostname, ".${var.route53_zone_name}")
    )
    error_message = "mail_domain and api_hostname should be inside route53_zone_name, or their records land in the wrong zone."
  }
}

module "network" {
  source = "./modules/network"

  name                       = local.name
  vpc_cidr                   = var.vpc_cidr
  availability_zones         = slice(data.aws_availability_zones.available.names, 0, length(var.public_subnet_cidrs))
  public_subnet_cidrs        = var.public_subnet_cidrs
  private_subnet_cidrs       = var.private_subnet_cidrs
  database_subnet_cidrs      = var.database_subnet_cidrs
  single_nat_gateway         = var.single_nat_gateway
  enable_s3_gateway_endpoint = var.enable_s3_gateway_endpoint
  app_port                   = 8080
  db_port                    = 5432
}

module "kms" {
  source = "./modules/kms"

  name                    = local.name
  deletion_window_in_days = var.kms_deletion_window_in_days
}

module "dns" {
  source = "./modules/dns"

  zone_name   = var.route53_zone_name
  create_zone = var.create_route53_zone
  zone_id     = var.route53_zone_id
}

module "queues" {
  source = "./modules/queues"

  name   = local.name
  queues = var.queues
}

module "mail_ingest" {
  source = "./modules/mail_ingest"

  name                               = local.name
  mail_domain                        = var.mail_domain
  zone_id                            = module.dns.zone_id
  kms_key_arn                        = module.kms.key_arn
  inbound_queue_arn                  = module.queues.queue_arns["inbound"]
  inbound_queue_url                  = module.queues.queue_urls["inbound"]
  api_webhook_url                    = local.api_webhook_url
  enable_debug_queue                 = var.enable_inbound_debug_queue
  tls_policy                         = var.ses_tls_policy
  scan_enabled                       = var.ses_scan_enabled
  raw_mail_expiration_days           = var.raw_mail_expiration_days
  attachments_expiration_days        = var.attachments_expiration_days
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  force_destroy_buckets              = var.force_destroy_buckets
  wait_for_ses_verification          = var.wait_for_ses_verification
}

module "database" {
  source = "./modules/database"

  name                          = local.name
  subnet_ids                    = module.network.database_subnet_ids
  security_group_ids            = [module.network.db_security_group_id]
  kms_key_arn                   = module.kms.key_arn
  engine_version                = var.db_engine_version
  instance_class                = var.db_instance_class
  allocated_storage             = var.db_allocated_storage
  max_allocated_storage         = var.db_max_allocated_storage
  db_name                       = var.db_name
  master_username               = var.db_master_username
  port                          = 5432
  multi_az                      = var.db_multi_az
  backup_retention_period       = var.db_backup_retention_period
  skip_final_snapshot           = var.db_skip_final_snapshot
  deletion_protection           = var.db_deletion_protection
  apply_immediately             = var.db_apply_immediately
  force_ssl                     = var.db_force_ssl
  log_min_duration_statement_ms = var.db_log_min_duration_statement_ms
}

module "config" {
  source = "./modules/config"

  prefix             = local.ssm_prefix
  environment        = var.environment
  kms_key_arn        = module.kms.key_arn
  db_host            = module.database.address
  db_port            = module.database.port
  db_name            = module.database.db_name
  inbound_queue_url  = module.queues.queue_urls["inbound"]
  raw_mail_bucket    = module.mail_ingest.raw_mail_bucket_name
  attachments_bucket = module.mail_ingest.attachments_bucket_name
  api_token          = var.api_token
}

module "edge" {
  source = "./modules/edge"

  name                 = local.name
  vpc_id               = module.network.vpc_id
  public_subnet_ids    = module.network.public_subnet_ids
  security_group_ids   = [module.network.alb_security_group_id]
  zone_id              = module.dns.zone_id
  api_hostname         = var.api_hostname
  app_port             = 8080
  ssl_policy           = var.alb_ssl_policy
  deletion_protection  = var.alb_deletion_protection
  health_check         = var.alb_health_check
  deregistration_delay = var.alb_deregistration_delay
  enable_waf           = var.enable_waf
  waf_rate_limit       = var.waf_rate_limit
}

module "compute" {
  source = "./modules/compute"

  name                   = local.name
  environment            = var.environment
  kms_key_arn            = module.kms.key_arn
  private_subnet_ids     = module.network.private_subnet_ids
  security_group_ids     = [module.network.ecs_security_group_id]
  target_group_arn       = module.edge.target_group_arn
  ssm_parameter_arns     = module.config.parameter_arns
  db_secret_arn          = module.database.master_user_secret_arn
  inbound_queue_arn      = module.queues.queue_arns["inbound"]
  inbound_queue_name     = module.queues.queue_names["inbound"]
  raw_mail_bucket_arn    = module.mail_ingest.raw_mail_bucket_arn
  attachments_bucket_arn = module.mail_ingest.attachments_bucket_arn
  inbound_prefix         = module.mail_ingest.inbound_prefix
  inbound_topic_arn      = module.mail_ingest.inbound_topic_arn

  app_port                          = 8080
  image_tag                         = var.image_tag
  ecr_image_tag_mutability          = var.ecr_image_tag_mutability
  ecr_scan_on_push                  = var.ecr_scan_on_push
  ecr_force_delete                  = var.ecr_force_delete
  log_retention_days                = var.log_retention_days
  log_level                         = var.log_level
  cpu_architecture                  = var.cpu_architecture
  task_sizes                        = var.task_sizes
  api_desired_count                 = var.api_desired_count
  health_check_grace_period_seconds = var.health_check_grace_period_seconds
  worker_min_count                  = var.worker_min_count
  worker_max_count                  = var.worker_max_count
  worker_scale_out_queue_depth      = var.worker_scale_out_queue_depth
  worker_scale_in_queue_depth       = var.worker_scale_in_queue_depth
  worker_wait_time_seconds          = var.worker_wait_time_seconds
  worker_batch_size                 = var.worker_batch_size
}

module "monitoring" {
  source = "./modules/monitoring"

  name                  = local.name
  kms_key_arn           = module.kms.key_arn
  alarm_email_endpoints = var.alarm_email_endpoints
  alarm_https_endpoints = var.alarm_https_endpoints
  dlq_names             = module.queues.dlq_names
  queue_age_alarms = {
    for k, t in var.queue_age_alarm_thresholds : k => {
      queue_name        = module.queues.queue_names[k]
      threshold_seconds = t
    }
  }
  ecs_cluster_name  = module.compute.cluster_name
  ecs_service_names = module.compute.service_names
  alb_arn_suffix    = module.edge.alb_arn_suffix
  alb_5xx_threshold = var.alb_5xx_threshold
}
