variable "name" {
  description = "Name prefix (ALB <name>-alb, target group <name>-api; at most 28 characters)."
  type        = string

  validation {
    condition     = length(var.name) <= 28
    error_message = "name must be at most 28 characters (ALB and target group names are limited to 32)."
  }
}

variable "vpc_id" {
  description = "VPC of the target group."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets of the ALB (two availability zones at least)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the ALB."
  type        = list(string)
}

variable "zone_id" {
  description = "Route53 zone for the certificate validation records and the API alias record."
  type        = string
}

variable "api_hostname" {
  description = "Public host name of the API (certificate subject, alias record)."
  type        = string
}

variable "app_port" {
  description = "Port of the API containers (target group port)."
  type        = number
  default     = 8080
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "idle_timeout" {
  description = "ALB idle timeout in seconds."
  type        = number
  default     = 60
}

variable "deletion_protection" {
  description = "Protect the ALB against deletion."
  type        = bool
  default     = false
}

variable "health_check" {
  description = "Target group health check of the API tasks."
  type = object({
    path                = optional(string, "/health")
    matcher             = optional(string, "200")
    interval            = optional(number, 15)
    timeout             = optional(number, 5)
    healthy_threshold   = optional(number, 2)
    unhealthy_threshold = optional(number, 3)
  })
  default = {}

  validation {
    condition     = var.health_check.timeout < var.health_check.interval
    error_message = "health_check.timeout must be shorter than health_check.interval."
  }

  validation {
    condition = (
      var.health_check.healthy_threshold >= 2 && var.health_check.healthy_threshold <= 10 &&
      var.health_check.unhealthy_threshold >= 2 && var.health_check.unhealthy_threshold <= 10
    )
    error_message = "health check thresholds must be between 2 and 10."
  }
}

variable "deregistration_delay" {
  description = "Seconds the ALB keeps draining a deregistering target."
  type        = number
  default     = 30

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600
    error_message = "deregistration_delay must be between 0 and 3600."
  }
}

variable "enable_waf" {
  description = "Attach a WAFv2 web ACL (AWS managed rule groups + per-IP rate limit) to the ALB."
  type        = bool
  default     = false
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes per client IP before the WAF blocks it."
  type        = number
  default     = 2000

  validation {
    condition     = var.waf_rate_limit >= 10
    error_message = "waf_rate_limit must be at least 10."
  }
}

variable "waf_managed_rule_groups" {
  description = "AWS managed rule groups (vendor AWS) evaluated by the web ACL, in order."
  type        = list(string)
  default = [
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
  ]
}
