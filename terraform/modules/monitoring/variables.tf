variable "name" {
  description = "Name prefix (topic <name>-ops-alerts, alarms <name>-...)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the ops-alerts topic (its policy must let cloudwatch.amazonaws.com use it)."
  type        = string
}

variable "alarm_email_endpoints" {
  description = "E-mail addresses subscribed to ops-alerts (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_email_endpoints : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_email_endpoints must be e-mail addresses."
  }
}

variable "alarm_https_endpoints" {
  description = "HTTPS endpoints (pager / chat webhooks) subscribed to ops-alerts."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_https_endpoints : startswith(e, "https://")])
    error_message = "alarm_https_endpoints must be https:// URLs."
  }
}

variable "dlq_names" {
  description = "Dead-letter queue names keyed by queue key; each gets a depth > 0 alarm."
  type        = map(string)
}

variable "queue_age_alarms" {
  description = "Main queues watched for ApproximateAgeOfOldestMessage: queue name and threshold in seconds, keyed by queue key."
  type = map(object({
    queue_name        = string
    threshold_seconds = number
  }))
}

variable "ecs_cluster_name" {
  description = "ECS cluster of the watched services."
  type        = string
}

variable "ecs_service_names" {
  description = "ECS services keyed by short name; each alarms when its running task count drops below 1."
  type        = map(string)
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB (LoadBalancer dimension)."
  type        = string
}

variable "alb_5xx_threshold" {
  description = "5xx responses per period above which the ALB alarms fire (ELB-generated and target-generated separately)."
  type        = number
  default     = 10
}

variable "period_seconds" {
  description = "Period of the alarms' metric statistics."
  type        = number
  default     = 60

  validation {
    condition     = contains([10, 30, 60, 300, 900, 3600], var.period_seconds)
    error_message = "period_seconds must be 10, 30 or a multiple of 60 from the usual set (60, 300, 900, 3600)."
  }
}

variable "running_tasks_evaluation_periods" {
  description = "Consecutive periods with no running task before the ECS alarms fire."
  type        = number
  default     = 3
}

variable "queue_age_evaluation_periods" {
  description = "Consecutive periods above the age threshold before the queue age alarms fire."
  type        = number
  default     = 3
}
