variable "name" {
  description = "Name prefix; the instance is <name>-postgres."
  type        = string
}

variable "subnet_ids" {
  description = "Database subnet IDs (at least two availability zones)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An RDS subnet group needs subnets in at least two availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups attached to the instance."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key for storage encryption and the RDS-managed master user secret."
  type        = string
}

variable "engine_version" {
  description = "PostgreSQL engine version (major, e.g. \"15\", or major.minor)."
  type        = string
  default     = "15"

  validation {
    condition     = can(regex("^15(\\.[0-9]+)?$", var.engine_version))
    error_message = "This module's parameter group is family postgres15: engine_version must be 15 or 15.x."
  }
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage >= 20
    error_message = "allocated_storage must be at least 20 GiB for gp3."
  }
}

variable "max_allocated_storage" {
  description = "Upper bound for storage autoscaling in GiB (0 disables autoscaling)."
  type        = number
  default     = 100
}

variable "db_name" {
  description = "Name of the application database."
  type        = string
  default     = "mailstack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must start with a letter and contain only lower-case letters, digits and underscores."
  }
}

variable "master_username" {
  description = "Master user name; its password is generated and rotated by RDS in Secrets Manager."
  type        = string
  default     = "mailstack"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,15}$", var.master_username)) && var.master_username != "postgres"
    error_message = "master_username must be 1-16 lower-case letters, digits or underscores, start with a letter, and not be a reserved name."
  }
}

variable "port" {
  description = "PostgreSQL port."
  type        = number
  default     = 5432
}

variable "multi_az" {
  description = "Run a synchronous standby in a second availability zone."
  type        = bool
  default     = false
}

variable "backup_retention_period" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_period >= 0 && var.backup_retention_period <= 35
    error_message = "backup_retention_period must be between 0 and 35."
  }
}

variable "skip_final_snapshot" {
  description = "Skip the final snapshot on destroy (test environments only)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the instance against deletion (turn on for production)."
  type        = bool
  default     = false
}

variable "apply_immediately" {
  description = "Apply modifications immediately instead of in the next maintenance window."
  type        = bool
  default     = false
}

variable "force_ssl" {
  description = "Value of the rds.force_ssl parameter: 1 rejects non-TLS connections, 0 allows them."
  type        = number
  default     = 1

  validation {
    condition     = contains([0, 1], var.force_ssl)
    error_message = "force_ssl must be 0 or 1."
  }
}

variable "log_min_duration_statement_ms" {
  description = "Log statements slower than this many milliseconds (-1 disables)."
  type        = number
  default     = 500

  validation {
    condition     = var.log_min_duration_statement_ms >= -1
    error_message = "log_min_duration_statement_ms must be -1 or more."
  }
}

variable "cloudwatch_logs_exports" {
  description = "Database log types exported to CloudWatch Logs."
  type        = list(string)
  default     = ["postgresql", "upgrade"]

  validation {
    condition     = alltrue([for t in var.cloudwatch_logs_exports : contains(["postgresql", "upgrade"], t)])
    error_message = "Only postgresql and upgrade logs exist for PostgreSQL."
  }
}
