output "raw_mail_bucket_name" {
  description = "Bucket SES stores raw mail in (under the inbound prefix)."
  value       = aws_s3_bucket.this["raw_mail"].id
}

output "raw_mail_bucket_arn" {
  description = "ARN of the raw-mail bucket."
  value       = aws_s3_bucket.this["raw_mail"].arn
}

output "attachments_bucket_name" {
  description = "Bucket the worker writes extracted attachments to."
  value       = aws_s3_bucket.this["attachments"].id
}

output "attachments_bucket_arn" {
  description = "ARN of the attachments bucket."
  value       = aws_s3_bucket.this["attachments"].arn
}

output "inbound_prefix" {
  description = "Key prefix of raw mail in the raw-mail bucket."
  value       = var.inbound_prefix
}

output "inbound_topic_arn" {
  description = "SNS topic the S3 action notifies of received mail (no content): inbound queue, API webhook."
  value       = aws_sns_topic.inbound.arn
}

output "inbound_topic_name" {
  description = "Name of the inbound SNS topic."
  value       = aws_sns_topic.inbound.name
}

output "api_webhook_subscription_arn" {
  description = "Subscription of the API webhook to the inbound topic (pending until the API confirms it)."
  value       = aws_sns_topic_subscription.api_webhook.arn
}

output "debug_queue_url" {
  description = "URL of the inbound debug queue (null when disabled)."
  value       = one(aws_sqs_queue.debug[*].url)
}

output "debug_queue_arn" {
  description = "ARN of the inbound debug queue (null when disabled)."
  value       = one(aws_sqs_queue.debug[*].arn)
}

output "receipt_rule_set_name" {
  description = "Name of the active SES receipt rule set."
  value       = aws_ses_active_receipt_rule_set.this.rule_set_name
}

output "receipt_rule_name" {
  description = "Name of the receipt rule that stores mail and notifies the topic."
  value       = aws_ses_receipt_rule.store.name
}

output "ses_domain_identity_arn" {
  description = "ARN of the SES domain identity."
  value       = aws_ses_domain_identity.this.arn
}

output "mail_domain" {
  description = "Domain that receives mail."
  value       = var.mail_domain
}

output "mx_record" {
  description = "MX record value of the mail domain."
  value       = one(aws_route53_record.mx.records)
}
