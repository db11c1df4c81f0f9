variable "name" {
  description = "Name prefix for every resource (e.g. mailstack-dev)."
  type        = string
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "availability_zones" {
  description = "Availability zones to spread the subnets over (one subnet of each tier per zone)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "At least two availability zones are required (RDS subnet groups and the ALB need two)."
  }
}

variable "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets (ALB, NAT gateways), one per availability zone."
  type        = list(string)
}

variable "private_subnet_cidrs" {
  description = "CIDR blocks of the private subnets (ECS tasks), one per availability zone."
  type        = list(string)
}

variable "database_subnet_cidrs" {
  description = "CIDR blocks of the isolated database subnets (RDS), one per availability zone."
  type        = list(string)
}

variable "single_nat_gateway" {
  description = "Use one NAT gateway for all private subnets (cheaper) instead of one per availability zone (zone-failure tolerant)."
  type        = bool
  default     = true
}

variable "enable_s3_gateway_endpoint" {
  description = "Create an S3 gateway VPC endpoint on the private route tables so S3 traffic from tasks bypasses the NAT gateway."
  type        = bool
  default     = true
}

variable "app_port" {
  description = "Container port the API listens on; the only port the ALB may reach on the ECS security group."
  type        = number
  default     = 8080

  validation {
    condition     = var.app_port > 0 && var.app_port < 65536
    error_message = "app_port must be a TCP port number."
  }
}

variable "db_port" {
  description = "PostgreSQL port opened from the ECS security group to the database security group."
  type        = number
  default     = 5432

  validation {
    condition     = var.db_port > 0 && var.db_port < 65536
    error_message = "db_port must be a TCP port number."
  }
}

variable "alb_ingress_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the ALB on 80/443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}
