terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "backlog_threshold" {
  type    = number
  default = 10
}

resource "aws_sqs_queue" "jobs" {
  name = "snapshot-jobs"
}

resource "aws_s3_bucket" "mail" {
  bucket = "snapshot-mail"
}

resource "aws_ssm_parameter" "queue_url" {
  name  = "/snapshot/queue-url"
  type  = "String"
  value = aws_sqs_queue.jobs.url
}

resource "aws_sns_topic" "alarms" {
  name = "snapshot-alarms"
}

resource "aws_cloudwatch_metric_alarm" "backlog" {
  alarm_name          = "snapshot-backlog"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.jobs.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.backlog_threshold
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

output "queue_url" {
  value = aws_sqs_queue.jobs.url
}

output "alarm_arn" {
  value = aws_cloudwatch_metric_alarm.backlog.arn
}
