variable "zone_name" {
  description = "DNS name of the Route53 public hosted zone holding the mail domain and API hostname records."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", var.zone_name))
    error_message = "zone_name must be a lower-case DNS name without a trailing dot."
  }
}

variable "create_zone" {
  description = "Create the hosted zone. Set to false to use an existing zone, looked up by zone_id (or by zone_name when zone_id is empty)."
  type        = bool
  default     = true
}

variable "zone_id" {
  description = "ID of an existing hosted zone (only with create_zone = false)."
  type        = string
  default     = ""
}

variable "force_destroy" {
  description = "Let terraform destroy the zone even when it holds records not managed here."
  type        = bool
  default     = false
}
