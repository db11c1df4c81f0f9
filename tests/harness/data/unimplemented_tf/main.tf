terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
}

provider "aws" {
  region = "us-east-1"
}

resource "aws_codeartifact_domain" "packages" {
  domain = "harness-packages"
}
