terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
}

provider "aws" {
  region = "us-east-1"
}

resource "aws_s3_bucket" "broken" {
  bucket = "harness-broken"
  not_an_argument = true
}
