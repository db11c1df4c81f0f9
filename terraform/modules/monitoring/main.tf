data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  actions    = [aws_sns_topic.ops_alerts.arn]
}

# ================================================================ ops-alerts topic
resource "aws_sns_topic" "ops_alerts" {
  name              = "${var.name}-ops-alerts"
  kms_master_key_id = var.kms_key_arn

  tags = { Name = "${var.name}-ops-alerts" }
}

data "aws_iam_policy_document" "ops_alerts" {
  statement {
    sid = "AccountOwner"
    actions = [
      "sns:GetTopicAttributes",
      "sns:SetTopicAttributes",
      "sns:AddPermission",
      "sns:RemovePermission",
      "sns:DeleteTopic",
      "sns:Subscribe",
      "sns:ListSubscriptionsByTopic",
      "sns:Publish",
    ]
    resources = [aws_sns_topic.ops_alerts.arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "AllowCloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.ops_alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "ops_alerts" {
  arn    = aws_sns_topic.ops_alerts.arn
  policy = data.aws_iam_policy_document.ops_alerts.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_email_endpoints)

  topic_arn = aws_sns_topic.ops_alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_sns_topic_subscription" "https" {
  for_each = toset(var.alarm_https_endpoints)

  topic_arn              = aws_sns_topic.ops_alerts.arn
  protocol               = "https"
  endpoint               = each.value
  endpoint_auto_confirms = false
}

# ================================================================ alarms
# treat_missing_data, per alarm:
#   - SQS metrics stop when a queue is idle/empty, ALB 5xx counts are not published when
#     there are none: missing data is the good case -> notBreaching.
#   - RunningTaskCount is published for as long as a service has tasks: missing data means
#     the service has nothing running (or the metric pipeline is broken) -> breaching.

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = var.dlq_names

  alarm_name          = "${var.name}-${each.key}-dlq-not-empty"
  alarm_description   = "Messages in the dead-letter queue ${each.value}: ${each.key} processing failed repeatedly"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = var.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = { Name = "${var.name}-${each.key}-dlq-not-empty", Queue = each.key }
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each = var.queue_age_alarms

  alarm_name          = "${var.name}-${each.key}-oldest-message-age"
  alarm_description   = "Oldest message in ${each.value.queue_name} is older than ${each.value.threshold_seconds}s: consumers are stuck or too slow"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value.queue_name }
  statistic           = "Maximum"
  period              = var.period_seconds
  evaluation_periods  = var.queue_age_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = { Name = "${var.name}-${each.key}-oldest-message-age", Queue = each.key }
}

resource "aws_cloudwatch_metric_alarm" "running_tasks" {
  for_each = var.ecs_service_names

  alarm_name          = "${var.name}-${each.key}-no-running-tasks"
  alarm_description   = "ECS service ${each.value} has no running task"
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = var.ecs_cluster_name, ServiceName = each.value }
  statistic           = "Minimum"
  period              = var.period_seconds
  evaluation_periods  = var.running_tasks_evaluation_periods
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = { Name = "${var.name}-${each.key}-no-running-tasks", Service = each.key }
}

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  for_each = {
    elb    = "HTTPCode_ELB_5XX_Count"
    target = "HTTPCode_Target_5XX_Count"
  }

  alarm_name          = "${var.name}-alb-${each.key}-5xx"
  alarm_description   = "More than ${var.alb_5xx_threshold} ${each.value} per ${var.period_seconds}s on the API load balancer"
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value
  dimensions          = { LoadBalancer = var.alb_arn_suffix }
  statistic           = "Sum"
  period              = var.period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alb_5xx_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions

  tags = { Name = "${var.name}-alb-${each.key}-5xx" }
}
