variable "name" {
  description = "Name prefix (e.g. mailstack-dev): cluster <name>, services <name>-api / <name>-worker, task families <name>-api|worker|migrate."
  type        = string
}

variable "environment" {
  description = "Environment name, passed to the containers as MAILSTACK_ENV."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key protecting the SSM SecureStrings, the RDS master secret and the mail buckets."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets the tasks run in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the tasks."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give tasks public IPs (only for tasks in public subnets without NAT)."
  type        = bool
  default     = false
}

variable "target_group_arn" {
  description = "ALB target group the API service registers its tasks with."
  type        = string
}

variable "ssm_parameter_arns" {
  description = "SSM parameter ARNs keyed by the path under /<name>/<env>/ (db/host, db/port, db/name, sqs/inbound_queue_url, s3/raw_mail_bucket, s3/attachments_bucket, api/token)."
  type        = map(string)

  validation {
    condition = alltrue([
      for k in ["db/host", "db/port", "db/name", "sqs/inbound_queue_url", "s3/raw_mail_bucket", "s3/attachments_bucket", "api/token"] :
      contains(keys(var.ssm_parameter_arns), k)
    ])
    error_message = "ssm_parameter_arns must contain every parameter of the service contract."
  }
}

variable "db_secret_arn" {
  description = "ARN of the RDS-managed master user secret (JSON keys username, password)."
  type        = string
}

variable "inbound_queue_arn" {
  description = "ARN of the inbound queue the worker consumes."
  type        = string
}

variable "inbound_queue_name" {
  description = "Name of the inbound queue (autoscaling alarms)."
  type        = string
}

variable "raw_mail_bucket_arn" {
  description = "ARN of the raw-mail bucket."
  type        = string
}

variable "attachments_bucket_arn" {
  description = "ARN of the attachments bucket."
  type        = string
}

variable "inbound_prefix" {
  description = "Key prefix of raw mail in the raw-mail bucket (the worker may read only below it)."
  type        = string
  default     = "inbound/"
}

variable "inbound_topic_arn" {
  description = "ARN of the inbound SNS topic: the API confirms its subscription and accepts only this topic."
  type        = string
}

# ---------------------------------------------------------------- images
variable "image_tag" {
  description = "Image tag deployed for api, worker and migrate (the deploy pipeline sets the git SHA)."
  type        = string
  default     = "0.1.0"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

variable "ecr_image_tag_mutability" {
  description = "MUTABLE or IMMUTABLE tags in the ECR repositories."
  type        = string
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["MUTABLE", "IMMUTABLE"], var.ecr_image_tag_mutability)
    error_message = "ecr_image_tag_mutability must be MUTABLE or IMMUTABLE."
  }
}

variable "ecr_scan_on_push" {
  description = "Scan images for vulnerabilities when pushed."
  type        = bool
  default     = true
}

variable "ecr_keep_images" {
  description = "Number of images kept per repository (older ones expire)."
  type        = number
  default     = 50

  validation {
    condition     = var.ecr_keep_images >= 1
    error_message = "ecr_keep_images must be at least 1."
  }
}

variable "ecr_force_delete" {
  description = "Let terraform destroy repositories that still hold images (test environments only)."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------- tasks
variable "app_port" {
  description = "Port the API listens on (PORT)."
  type        = number
  default     = 8080
}

variable "log_level" {
  description = "LOG_LEVEL of every container."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_days" {
  description = "Retention of the per-service CloudWatch log groups."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention period CloudWatch Logs accepts."
  }
}

variable "task_sizes" {
  description = "Fargate cpu units / memory MiB per task family."
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

  validation {
    condition     = alltrue([for s in values(var.task_sizes) : contains([256, 512, 1024, 2048, 4096, 8192, 16384], s.cpu)])
    error_message = "cpu must be a Fargate cpu size (256, 512, 1024, ...)."
  }
}

variable "cpu_architecture" {
  description = "X86_64 or ARM64 (must match the images)."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "sns_trusted_cert_url_pattern" {
  description = "SNS_TRUSTED_CERT_URL_PATTERN: regex an SNS SigningCertURL must match."
  type        = string
  default     = "^https://sns\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/"
}

variable "worker_wait_time_seconds" {
  description = "WORKER_WAIT_TIME_SECONDS: SQS long-poll wait of the worker."
  type        = number
  default     = 20

  validation {
    condition     = var.worker_wait_time_seconds >= 0 && var.worker_wait_time_seconds <= 20
    error_message = "worker_wait_time_seconds must be between 0 and 20."
  }
}

variable "worker_batch_size" {
  description = "WORKER_BATCH_SIZE: messages per ReceiveMessage call."
  type        = number
  default     = 10

  validation {
    condition     = var.worker_batch_size >= 1 && var.worker_batch_size <= 10
    error_message = "worker_batch_size must be between 1 and 10."
  }
}

# ---------------------------------------------------------------- services
variable "container_insights" {
  description = "Enable CloudWatch Container Insights on the cluster (needed by the RunningTaskCount alarms)."
  type        = bool
  default     = true
}

variable "api_desired_count" {
  description = "Number of API tasks."
  type        = number
  default     = 2

  validation {
    condition     = var.api_desired_count >= 0
    error_message = "api_desired_count must not be negative."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds ECS ignores failing ALB health checks of a new API task."
  type        = number
  default     = 60

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && var.health_check_grace_period_seconds <= 2147483647
    error_message = "health_check_grace_period_seconds must not be negative."
  }
}

variable "worker_min_count" {
  description = "Minimum number of worker tasks (autoscaling floor, also the initial desired count)."
  type        = number
  default     = 1

  validation {
    condition     = var.worker_min_count >= 0
    error_message = "worker_min_count must not be negative."
  }
}

variable "worker_max_count" {
  description = "Maximum number of worker tasks (autoscaling ceiling)."
  type        = number
  default     = 4
}

variable "worker_scale_out_queue_depth" {
  description = "Inbound queue depth (visible messages) at or above which a worker is added."
  type        = number
  default     = 100
}

variable "worker_scale_in_queue_depth" {
  description = "Inbound queue depth at or below which a worker is removed."
  type        = number
  default     = 10
}

variable "worker_scale_out_evaluation_periods" {
  description = "Consecutive one-minute periods above the scale-out depth before adding a worker."
  type        = number
  default     = 2
}

variable "worker_scale_in_evaluation_periods" {
  description = "Consecutive one-minute periods below the scale-in depth before removing a worker."
  type        = number
  default     = 10
}

variable "worker_scale_out_cooldown_seconds" {
  description = "Cooldown after a scale-out step."
  type        = number
  default     = 60
}

variable "worker_scale_in_cooldown_seconds" {
  description = "Cooldown after a scale-in step."
  type        = number
  default     = 300
}
