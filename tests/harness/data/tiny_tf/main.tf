terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "greeting" {
  type    = string
  default = "hello"
}

resource "aws_ssm_parameter" "probe" {
  name  = "/harness/probe"
  type  = "String"
  value = var.greeting
}

output "parameter" {
  value = aws_ssm_parameter.probe.name
}
