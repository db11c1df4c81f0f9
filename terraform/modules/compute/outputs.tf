output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}

output "service_names" {
  description = "ECS service names (api, worker)."
  value = {
    api    = aws_ecs_service.api.name
    worker = aws_ecs_service.worker.name
  }
}

output "task_definition_arns" {
  description = "Task definition ARNs with revision (api, worker, migrate)."
  value = {
    api     = aws_ecs_task_definition.api.arn
    worker  = aws_ecs_task_definition.worker.arn
    migrate = aws_ecs_task_definition.migrate.arn
  }
}

output "task_definition_families" {
  description = "Task definition families (api, worker, migrate)."
  value = {
    api     = aws_ecs_task_definition.api.family
    worker  = aws_ecs_task_definition.worker.family
    migrate = aws_ecs_task_definition.migrate.family
  }
}

output "ecr_repository_urls" {
  description = "ECR repository URLs (api, worker); migrate runs the api image."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "images" {
  description = "Full image references deployed per task family."
  value       = local.images
}

output "log_group_names" {
  description = "CloudWatch log groups per task family."
  value       = { for k, g in aws_cloudwatch_log_group.this : k => g.name }
}

output "execution_role_arn" {
  description = "Task execution role."
  value       = aws_iam_role.execution.arn
}

output "task_role_arns" {
  description = "Task roles (api, worker); migrate has none."
  value = {
    api    = aws_iam_role.api_task.arn
    worker = aws_iam_role.worker_task.arn
  }
}

output "worker_autoscaling_alarm_names" {
  description = "Queue-depth alarms driving the worker step scaling (high, low)."
  value = {
    high = aws_cloudwatch_metric_alarm.worker_queue_high.alarm_name
    low  = aws_cloudwatch_metric_alarm.worker_queue_low.alarm_name
  }
}

output "worker_scaling_policy_arns" {
  description = "Worker step scaling policies (scale_out, scale_in)."
  value = {
    scale_out = aws_appautoscaling_policy.worker_scale_out.arn
    scale_in  = aws_appautoscaling_policy.worker_scale_in.arn
  }
}
