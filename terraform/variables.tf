# ================================================================ identity
variable "name" {
  description = "Project name; every resource is named <name>-<environment>-..."
  type        = string
  default     = "mailstack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.name))
    error_message = "name must be 2-16 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (dev, staging, prod, ...)."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lower-case letters or digits, starting with a letter."
  }
}

variable "region" {
  description = "AWS region. SES receives mail only in some regions (us-east-1, us-west-2, eu-west-1, ...)."
  type        = string
  default     = "us-east-1"
}

variable "tags" {
  description = "Extra tags added to every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

# ================================================================ network
variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "public_subnet_cidrs" {
  description = "Public subnets (ALB, NAT), one per availability zone; the first N zones of the region are used."
  type        = list(string)
  default     = ["10.40.0.0/24", "10.40.1.0/24"]
}

variable "private_subnet_cidrs" {
  description = "Private subnets (ECS tasks), one per availability zone."
  type        = list(string)
  default     = ["10.40.10.0/24", "10.40.11.0/24"]
}

variable "database_subnet_cidrs" {
  description = "Database subnets (RDS, no internet route), one per availability zone."
  type        = list(string)
  default     = ["10.40.20.0/24", "10.40.21.0/24"]
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (cheaper) instead of one per availability zone."
  type        = bool
  default     = true
}

variable "enable_s3_gateway_endpoint" {
  description = "S3 gateway endpoint on the private route tables."
  type        = bool
  default     = true
}

# ================================================================ DNS
variable "route53_zone_name" {
  description = "Public hosted zone holding the mail domain and API hostname records."
  type        = string
  default     = "mailstack.example"
}

variable "create_route53_zone" {
  description = "Create the hosted zone (false: use an existing one, by route53_zone_id or by name)."
  type        = bool
  default     = true
}

variable "route53_zone_id" {
  description = "ID of an existing hosted zone (with create_route53_zone = false)."
  type        = string
  default     = ""
}

variable "mail_domain" {
  description = "Domain that receives mail through SES (inside route53_zone_name)."
  type        = string
  default     = "mail.mailstack.example"
}

variable "api_hostname" {
  description = "Public host name of the API (inside route53_zone_name); the SNS webhook is https://<api_hostname>/v1/webhooks/aws/sns."
  type        = string
  default     = "api.mailstack.example"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*\\.[a-z]{2,}$", var.api_hostname))
    error_message = "api_hostname must be a lower-case DNS name."
  }
}

# ================================================================ encryption
variable "kms_deletion_window_in_days" {
  description = "Waiting period before the KMS key is deleted after destroy."
  type        = number
  default     = 30
}

# ================================================================ mail ingest
variable "ses_tls_policy" {
  description = "SES receipt rule TLS policy (Require or Optional)."
  type        = string
  default     = "Require"
}

variable "ses_scan_enabled" {
  description = "SES spam and virus scanning of received mail."
  type        = bool
  default     = true
}

variable "wait_for_ses_verification" {
  description = "Make apply wait for SES to verify the mail domain (only once the zone is delegated)."
  type        = bool
  default     = false
}

variable "enable_inbound_debug_queue" {
  description = "Subscribe an SQS debug queue to the inbound topic (off by default: production data fan-out)."
  type        = bool
  default     = false
}

variable "raw_mail_expiration_days" {
  description = "Days before raw mail expires."
  type        = number
  default     = 365
}

variable "attachments_expiration_days" {
  description = "Days before attachments expire."
  type        = number
  default     = 730
}

variable "noncurrent_version_expiration_days" {
  description = "Days before non-current object versions are removed."
  type        = number
  default     = 30
}

variable "force_destroy_buckets" {
  description = "Let destroy delete non-empty buckets (test environments only)."
  type        = bool
  default     = false
}

# ================================================================ queues
variable "queues" {
  description = "SQS queues (each with a DLQ), keyed by short name. See modules/queues for the fields."
  type = map(object({
    fifo                        = optional(bool, false)
    content_based_deduplication = optional(bool, false)
    visibility_timeout_seconds  = optional(number, 30)
    max_receive_count           = optional(number, 5)
    receive_wait_time_seconds   = optional(number, 0)
    message_retention_seconds   = optional(number, 1209600)
    delay_seconds               = optional(number, 0)
    max_message_size            = optional(number, 262144)
  }))
  default = {
    inbound = {
      visibility_timeout_seconds = 60
      max_receive_count          = 5
      receive_wait_time_seconds  = 0
    }
    outbound = {
      visibility_timeout_seconds = 300
      max_receive_count          = 3
      receive_wait_time_seconds  = 20
    }
    telemetry = {
      visibility_timeout_seconds = 60
      max_receive_count          = 10
      receive_wait_time_seconds  = 0
    }
    webhooks = {
      fifo                        = true
      content_based_deduplication = true
      visibility_timeout_seconds  = 60
      max_receive_count           = 7
      receive_wait_time_seconds   = 20
    }
  }

  validation {
    condition     = contains(keys(var.queues), "inbound")
    error_message = "queues must contain an \"inbound\" queue (S3 notifications, worker)."
  }
}

variable "queue_age_alarm_thresholds" {
  description = "ApproximateAgeOfOldestMessage alarm threshold in seconds, per queue key."
  type        = map(number)
  default = {
    inbound  = 300
    outbound = 900
  }
}

# ================================================================ database
variable "db_engine_version" {
  description = "PostgreSQL engine version."
  type        = string
  default     = "15"
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Storage autoscaling ceiling in GiB (0 = off)."
  type        = number
  default     = 100
}

variable "db_name" {
  description = "Application database name."
  type        = string
  default     = "mailstack"
}

variable "db_master_username" {
  description = "Master user name (password managed by RDS in Secrets Manager)."
  type        = string
  default     = "mailstack"
}

variable "db_multi_az" {
  description = "Multi-AZ standby."
  type        = bool
  default     = false
}

variable "db_backup_retention_period" {
  description = "Days of automated backups."
  type        = number
  default     = 7
}

variable "db_skip_final_snapshot" {
  description = "Skip the final snapshot on destroy."
  type        = bool
  default     = true
}

variable "db_deletion_protection" {
  description = "Deletion protection of the instance (false by default so test environments can be destroyed)."
  type        = bool
  default     = false
}

variable "db_apply_immediately" {
  description = "Apply database modifications immediately."
  type        = bool
  default     = false
}

variable "db_force_ssl" {
  description = "rds.force_ssl parameter (1 = TLS required, 0 = optional)."
  type        = number
  default     = 1
}

variable "db_log_min_duration_statement_ms" {
  description = "log_min_duration_statement in ms (-1 = off)."
  type        = number
  default     = 500
}

# ================================================================ config
variable "api_token" {
  description = "API bearer token stored in /<name>/<env>/api/token. Leave null to create a placeholder that operators rotate out of band (refused in prod); set it (TF_VAR_api_token) to let terraform own the value."
  type        = string
  default     = null
  sensitive   = true
}

# ================================================================ compute
variable "image_tag" {
  description = "Image tag of api, worker and migrate (the deploy pipeline passes the git SHA)."
  type        = string
  default     = "0.1.0"
}

variable "ecr_image_tag_mutability" {
  description = "MUTABLE or IMMUTABLE ECR tags."
  type        = string
  default     = "IMMUTABLE"
}

variable "ecr_scan_on_push" {
  description = "Scan images on push."
  type        = bool
  default     = true
}

variable "ecr_force_delete" {
  description = "Let destroy delete repositories that still hold images."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of the ECS log groups."
  type        = number
  default     = 30
}

variable "log_level" {
  description = "LOG_LEVEL of the services."
  type        = string
  default     = "INFO"
}

variable "cpu_architecture" {
  description = "CPU architecture of the images (X86_64 or ARM64)."
  type        = string
  default     = "X86_64"
}

variable "task_sizes" {
  description = "Fargate cpu / memory per task family."
  type = object({
    api     = object({ cpu = number, memory = number })
    worker  = object({ cpu = number, memory = number })
    migrate = object({ cpu = number, memory = number })
  })
  default = {
    api     = { cpu = 256, memory = 512 }
    worker  = { cpu = 256, memory = 512 }
    migrate = { cpu = 256, memory = 512 }
  }
}

variable "api_desired_count" {
  description = "Number of API tasks."
  type        = number
  default     = 2
}

variable "health_check_grace_period_seconds" {
  description = "Grace period for ALB health checks of new API tasks."
  type        = number
  default     = 60
}

variable "worker_min_count" {
  description = "Worker autoscaling floor (and initial count)."
  type        = number
  default     = 1
}

variable "worker_max_count" {
  description = "Worker autoscaling ceiling."
  type        = number
  default     = 4
}

variable "worker_scale_out_queue_depth" {
  description = "Inbound queue depth that adds a worker."
  type        = number
  default     = 100
}

variable "worker_scale_in_queue_depth" {
  description = "Inbound queue depth that removes a worker."
  type        = number
  default     = 10
}

variable "worker_wait_time_seconds" {
  description = "WORKER_WAIT_TIME_SECONDS (SQS long-poll wait)."
  type        = number
  default     = 20
}

variable "worker_batch_size" {
  description = "WORKER_BATCH_SIZE (messages per receive)."
  type        = number
  default     = 10
}

# ================================================================ edge
variable "alb_ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "alb_deletion_protection" {
  description = "Deletion protection of the ALB."
  type        = bool
  default     = false
}

variable "alb_health_check" {
  description = "API target group health check (path, matcher, interval, timeout, healthy_threshold, unhealthy_threshold)."
  type = object({
    path                = optional(string, "/health")
    matcher             = optional(string, "200")
    interval            = optional(number, 15)
    timeout             = optional(number, 5)
    healthy_threshold   = optional(number, 2)
    unhealthy_threshold = optional(number, 3)
  })
  default = {}
}

variable "alb_deregistration_delay" {
  description = "Seconds a deregistering API target is drained."
  type        = number
  default     = 30
}

variable "enable_waf" {
  description = "Attach a WAFv2 web ACL (managed rules + rate limit) to the ALB. Off by default; recommended for production."
  type        = bool
  default     = false
}

variable "waf_rate_limit" {
  description = "WAF requests per 5 minutes per client IP."
  type        = number
  default     = 2000
}

# ================================================================ monitoring
variable "alarm_email_endpoints" {
  description = "E-mail addresses subscribed to the ops-alerts topic."
  type        = list(string)
  default     = []
}

variable "alarm_https_endpoints" {
  description = "HTTPS endpoints subscribed to the ops-alerts topic."
  type        = list(string)
  default     = []
}

variable "alb_5xx_threshold" {
  description = "5xx responses per minute above which the ALB alarms fire."
  type        = number
  default     = 10
}
