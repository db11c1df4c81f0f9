variable "prefix" {
  description = "SSM path prefix, with leading and trailing slash (e.g. /mailstack/dev/)."
  type        = string

  validation {
    condition     = can(regex("^/([A-Za-z0-9_.-]+/)+$", var.prefix))
    error_message = "prefix must look like /mailstack/dev/ (leading and trailing slash)."
  }
}

variable "environment" {
  description = "Environment name; production-like environments refuse to run without an explicit api_token."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for SecureString parameters."
  type        = string
}

variable "db_host" {
  description = "Database host name."
  type        = string
}

variable "db_port" {
  description = "Database port."
  type        = number
}

variable "db_name" {
  description = "Database name."
  type        = string
}

variable "inbound_queue_url" {
  description = "URL of the inbound SQS queue."
  type        = string
}

variable "raw_mail_bucket" {
  description = "Name of the raw-mail bucket."
  type        = string
}

variable "attachments_bucket" {
  description = "Name of the attachments bucket."
  type        = string
}

variable "api_token" {
  description = "API bearer token. null: the parameter is created once with a placeholder and never overwritten by terraform (rotate it with put-parameter). Set: terraform owns the value."
  type        = string
  default     = null
  sensitive   = true
}

variable "protected_environments" {
  description = "Environments where a placeholder API token is refused (api_token must be given)."
  type        = list(string)
  default     = ["prod", "production"]
}
