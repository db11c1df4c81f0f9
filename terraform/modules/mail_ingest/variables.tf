variable "name" {
  description = "Name prefix for every resource (e.g. mailstack-dev)."
  type        = string
}

variable "mail_domain" {
  description = "Domain that receives mail (SES identity, MX record, receipt rule recipient)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*\\.[a-z]{2,}$", var.mail_domain))
    error_message = "mail_domain must be a lower-case DNS name such as mail.example.com."
  }
}

variable "zone_id" {
  description = "Route53 hosted zone that holds the mail domain records."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for bucket default encryption and the inbound SNS topic."
  type        = string
}

variable "inbound_queue_arn" {
  description = "ARN of the SQS queue that receives the raw bucket's ObjectCreated events under inbound/."
  type        = string
}

variable "inbound_queue_url" {
  description = "URL of the same inbound queue (its queue policy is managed here)."
  type        = string
}

variable "inbound_prefix" {
  description = "Key prefix SES writes raw mail under and the S3 notification filters on."
  type        = string
  default     = "inbound/"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/$", var.inbound_prefix))
    error_message = "inbound_prefix must be a single path segment ending in '/'."
  }
}

variable "api_webhook_url" {
  description = "HTTPS endpoint of the API that the inbound SNS topic delivers to (https://<api hostname>/v1/webhooks/aws/sns)."
  type        = string

  validation {
    condition     = startswith(var.api_webhook_url, "https://")
    error_message = "api_webhook_url must be an https:// URL."
  }
}

variable "enable_debug_queue" {
  description = "Subscribe an extra SQS debug queue to the inbound topic (a copy of every notification; off in production)."
  type        = bool
  default     = false
}

variable "tls_policy" {
  description = "SES receipt rule TLS policy: Require (reject mail not sent over TLS) or Optional."
  type        = string
  default     = "Require"

  validation {
    condition     = contains(["Require", "Optional"], var.tls_policy)
    error_message = "tls_policy must be Require or Optional."
  }
}

variable "scan_enabled" {
  description = "Let SES scan received mail for spam and viruses."
  type        = bool
  default     = true
}

variable "raw_mail_expiration_days" {
  description = "Days after which raw mail objects expire."
  type        = number
  default     = 365

  validation {
    condition     = var.raw_mail_expiration_days >= 1
    error_message = "raw_mail_expiration_days must be at least 1."
  }
}

variable "attachments_expiration_days" {
  description = "Days after which attachment objects expire."
  type        = number
  default     = 730

  validation {
    condition     = var.attachments_expiration_days >= 1
    error_message = "attachments_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which non-current object versions are removed from both buckets."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "force_destroy_buckets" {
  description = "Allow terraform destroy to delete the buckets with their objects (test environments only)."
  type        = bool
  default     = false
}

variable "wait_for_ses_verification" {
  description = "Make apply wait until SES has verified the domain (needs the zone to be delegated)."
  type        = bool
  default     = false
}
