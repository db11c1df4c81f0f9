output "queue_urls" {
  description = "Main queue URLs by key."
  value       = { for k, q in aws_sqs_queue.this : k => q.url }
}

output "queue_arns" {
  description = "Main queue ARNs by key."
  value       = { for k, q in aws_sqs_queue.this : k => q.arn }
}

output "queue_names" {
  description = "Main queue names by key."
  value       = { for k, q in aws_sqs_queue.this : k => q.name }
}

output "dlq_urls" {
  description = "Dead-letter queue URLs by key."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.url }
}

output "dlq_arns" {
  description = "Dead-letter queue ARNs by key."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.arn }
}

output "dlq_names" {
  description = "Dead-letter queue names by key."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.name }
}
