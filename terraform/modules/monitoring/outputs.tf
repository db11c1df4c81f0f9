output "ops_alerts_topic_arn" {
  description = "ARN of the ops-alerts SNS topic every alarm notifies."
  value       = aws_sns_topic.ops_alerts.arn
}

output "ops_alerts_topic_name" {
  description = "Name of the ops-alerts SNS topic."
  value       = aws_sns_topic.ops_alerts.name
}

output "alarm_names" {
  description = "Alarm names by kind and key."
  value = {
    dlq_depth     = { for k, a in aws_cloudwatch_metric_alarm.dlq_depth : k => a.alarm_name }
    queue_age     = { for k, a in aws_cloudwatch_metric_alarm.queue_age : k => a.alarm_name }
    running_tasks = { for k, a in aws_cloudwatch_metric_alarm.running_tasks : k => a.alarm_name }
    alb_5xx       = { for k, a in aws_cloudwatch_metric_alarm.alb_5xx : k => a.alarm_name }
  }
}
