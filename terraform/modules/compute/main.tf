data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  repositories = toset(["api", "worker"])
  log_groups   = toset(["api", "worker", "migrate"])

  images = {
    api     = "${aws_ecr_repository.this["api"].repository_url}:${var.image_tag}"
    worker  = "${aws_ecr_repository.this["worker"].repository_url}:${var.image_tag}"
    migrate = "${aws_ecr_repository.this["api"].repository_url}:${var.image_tag}"
  }

  # ------------------------------------------------------------ configuration contract
  common_environment = [
    { name = "MAILSTACK_ENV", value = var.environment },
    { name = "AWS_REGION", value = local.region },
    { name = "LOG_LEVEL", value = var.log_level },
  ]

  db_secrets = [
    { name = "DB_HOST", valueFrom = var.ssm_parameter_arns["db/host"] },
    { name = "DB_PORT", valueFrom = var.ssm_parameter_arns["db/port"] },
    { name = "DB_NAME", valueFrom = var.ssm_parameter_arns["db/name"] },
    { name = "DB_USER", valueFrom = "${var.db_secret_arn}:username::" },
    { name = "DB_PASSWORD", valueFrom = "${var.db_secret_arn}:password::" },
  ]

  bucket_secrets = [
    { name = "RAW_MAIL_BUCKET", valueFrom = var.ssm_parameter_arns["s3/raw_mail_bucket"] },
    { name = "ATTACHMENTS_BUCKET", valueFrom = var.ssm_parameter_arns["s3/attachments_bucket"] },
  ]

  api_environment = concat(local.common_environment, [
    { name = "PORT", value = tostring(var.app_port) },
    { name = "SNS_TRUSTED_CERT_URL_PATTERN", value = var.sns_trusted_cert_url_pattern },
    { name = "SNS_TOPIC_ARNS", value = var.inbound_topic_arn },
  ])
  api_secrets = concat(local.db_secrets, local.bucket_secrets, [
    { name = "API_TOKEN", valueFrom = var.ssm_parameter_arns["api/token"] },
  ])

  worker_environment = concat(local.common_environment, [
    { name = "WORKER_WAIT_TIME_SECONDS", value = tostring(var.worker_wait_time_seconds) },
    { name = "WORKER_BATCH_SIZE", value = tostring(var.worker_batch_size) },
  ])
  worker_secrets = concat(local.db_secrets, local.bucket_secrets, [
    { name = "INBOUND_QUEUE_URL", valueFrom = var.ssm_parameter_arns["sqs/inbound_queue_url"] },
  ])

  migrate_environment = local.common_environment
  migrate_secrets     = local.db_secrets

  # Exactly the SSM parameters referenced by some task definition.
  ssm_parameters_used = distinct([
    for s in concat(local.api_secrets, local.worker_secrets, local.migrate_secrets) : s.valueFrom
    if startswith(s.valueFrom, "arn:${local.partition}:ssm:")
  ])

  log_configuration = {
    for k in local.log_groups : k => {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this[k].name
        awslogs-region        = local.region
        awslogs-stream-prefix = k
      }
    }
  }
}

# ================================================================ ECR
resource "aws_ecr_repository" "this" {
  for_each = local.repositories

  name                 = "${var.name}-${each.key}"
  image_tag_mutability = var.ecr_image_tag_mutability
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = var.ecr_scan_on_push
  }

  tags = { Name = "${var.name}-${each.key}", Service = each.key }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = local.repositories

  repository = aws_ecr_repository.this[each.key].name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after 7 days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 7
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the last ${var.ecr_keep_images} images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.ecr_keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

# ================================================================ logs
resource "aws_cloudwatch_log_group" "this" {
  for_each = local.log_groups

  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days

  tags = { Name = "/ecs/${var.name}/${each.key}", Service = each.key }
}

# ================================================================ IAM
data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# ---- execution role: pull images, write logs, resolve the task definitions' secrets
resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  description        = "ECS agent: pull ${var.name} images, write logs, read the configuration secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "EcrPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:GetDownloadUrlForLayer",
      "ecr:BatchGetImage",
    ]
    resources = [for r in aws_ecr_repository.this : r.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for g in aws_cloudwatch_log_group.this : "${g.arn}:*"]
  }

  statement {
    sid       = "SsmParameters"
    actions   = ["ssm:GetParameters"]
    resources = local.ssm_parameters_used
  }

  statement {
    sid       = "DatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.db_secret_arn]
  }

  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "ecs-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# ---- API task role
resource "aws_iam_role" "api_task" {
  name               = "${var.name}-api-task"
  description        = "${var.name} API containers"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "api_task" {
  statement {
    sid     = "ReadMail"
    actions = ["s3:GetObject"]
    resources = [
      "${var.raw_mail_bucket_arn}/*",
      "${var.attachments_bucket_arn}/*",
    ]
  }

  statement {
    sid       = "ConfirmInboundSubscription"
    actions   = ["sns:ConfirmSubscription"]
    resources = [var.inbound_topic_arn]
  }

  statement {
    sid       = "DecryptMail"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "api_task" {
  name   = "api-task"
  role   = aws_iam_role.api_task.id
  policy = data.aws_iam_policy_document.api_task.json
}

# ---- worker task role
resource "aws_iam_role" "worker_task" {
  name               = "${var.name}-worker-task"
  description        = "${var.name} worker containers"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "worker_task" {
  statement {
    sid = "ConsumeInbound"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
    ]
    resources = [var.inbound_queue_arn]
  }

  statement {
    sid       = "ReadRawMail"
    actions   = ["s3:GetObject"]
    resources = ["${var.raw_mail_bucket_arn}/${var.inbound_prefix}*"]
  }

  statement {
    sid       = "WriteAttachments"
    actions   = ["s3:PutObject"]
    resources = ["${var.attachments_bucket_arn}/*"]
  }

  statement {
    sid       = "MailEncryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "worker_task" {
  name   = "worker-task"
  role   = aws_iam_role.worker_task.id
  policy = data.aws_iam_policy_document.worker_task.json
}

# ================================================================ cluster + task definitions
resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }

  tags = { Name = var.name }
}

resource "aws_ecs_task_definition" "api" {
  family                   = "${var.name}-api"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.task_sizes.api.cpu)
  memory                   = tostring(var.task_sizes.api.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.api_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name        = "api"
      image       = local.images.api
      essential   = true
      command     = ["api"]
      environment = local.api_environment
      secrets     = local.api_secrets
      portMappings = [
        { containerPort = var.app_port, hostPort = var.app_port, protocol = "tcp" },
      ]
      healthCheck = {
        command     = ["CMD", "mailstack", "healthcheck"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 15
      }
      logConfiguration = local.log_configuration["api"]
    },
  ])

  tags = { Name = "${var.name}-api", Service = "api" }
}

resource "aws_ecs_task_definition" "worker" {
  family                   = "${var.name}-worker"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.task_sizes.worker.cpu)
  memory                   = tostring(var.task_sizes.worker.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.worker_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name             = "worker"
      image            = local.images.worker
      essential        = true
      command          = ["worker"]
      environment      = local.worker_environment
      secrets          = local.worker_secrets
      logConfiguration = local.log_configuration["worker"]
    },
  ])

  tags = { Name = "${var.name}-worker", Service = "worker" }
}

# One-shot database migration, run by the deploy pipeline (ecs run-task) before the services roll.
# No task role: it needs nothing from AWS beyond what the execution role resolves.
resource "aws_ecs_task_definition" "migrate" {
  family                   = "${var.name}-migrate"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.task_sizes.migrate.cpu)
  memory                   = tostring(var.task_sizes.migrate.memory)
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([
    {
      name             = "migrate"
      image            = local.images.migrate
      essential        = true
      command          = ["migrate"]
      environment      = local.migrate_environment
      secrets          = local.migrate_secrets
      logConfiguration = local.log_configuration["migrate"]
    },
  ])

  tags = {
    Name    = "${var.name}-migrate"
    Service = "migrate"
    # One-shot task that must finish before the services roll (the deploy pipeline and the local
    # harness both run it first).
    "harness:run-before-services" = "true"
  }
}

# ================================================================ services
resource "aws_ecs_service" "api" {
  name                               = "${var.name}-api"
  cluster                            = aws_ecs_cluster.this.arn
  task_definition                    = aws_ecs_task_definition.api.arn
  desired_count                      = var.api_desired_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  health_check_grace_period_seconds  = var.health_check_grace_period_seconds
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = var.assign_public_ip
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = "api"
    container_port   = var.app_port
  }

  tags = { Name = "${var.name}-api", Service = "api" }

  depends_on = [aws_iam_role_policy.execution, aws_iam_role_policy.api_task]
}

resource "aws_ecs_service" "worker" {
  name                               = "${var.name}-worker"
  cluster                            = aws_ecs_cluster.this.arn
  task_definition                    = aws_ecs_task_definition.worker.arn
  desired_count                      = var.worker_min_count
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = var.assign_public_ip
  }

  tags = { Name = "${var.name}-worker", Service = "worker" }

  # The desired count belongs to application autoscaling once the service exists.
  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_iam_role_policy.execution, aws_iam_role_policy.worker_task]
}

# ================================================================ worker autoscaling on queue depth
resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.worker.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.worker_min_count
  max_capacity       = var.worker_max_count

  lifecycle {
    precondition {
      condition     = var.worker_max_count >= var.worker_min_count
      error_message = "worker_max_count must be at least worker_min_count."
    }
  }
}

resource "aws_appautoscaling_policy" "worker_scale_out" {
  name               = "${var.name}-worker-scale-out"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = var.worker_scale_out_cooldown_seconds
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_lower_bound = 0
      scaling_adjustment          = 1
    }
  }
}

resource "aws_appautoscaling_policy" "worker_scale_in" {
  name               = "${var.name}-worker-scale-in"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  resource_id        = aws_appautoscaling_target.worker.resource_id
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = var.worker_scale_in_cooldown_seconds
    metric_aggregation_type = "Maximum"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = -1
    }
  }
}

# Missing data: an idle queue stops publishing metrics, so "no data" means nothing to do:
# not breaching for scale-out, breaching for scale-in.
resource "aws_cloudwatch_metric_alarm" "worker_queue_high" {
  alarm_name          = "${var.name}-worker-queue-depth-high"
  alarm_description   = "Scale the worker out: ${var.inbound_queue_name} has at least ${var.worker_scale_out_queue_depth} visible messages"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.inbound_queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.worker_scale_out_evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.worker_scale_out_queue_depth
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_appautoscaling_policy.worker_scale_out.arn]

  tags = { Name = "${var.name}-worker-queue-depth-high", Purpose = "autoscaling" }
}

resource "aws_cloudwatch_metric_alarm" "worker_queue_low" {
  alarm_name          = "${var.name}-worker-queue-depth-low"
  alarm_description   = "Scale the worker in: ${var.inbound_queue_name} has at most ${var.worker_scale_in_queue_depth} visible messages"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = var.inbound_queue_name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.worker_scale_in_evaluation_periods
  comparison_operator = "LessThanOrEqualToThreshold"
  threshold           = var.worker_scale_in_queue_depth
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_appautoscaling_policy.worker_scale_in.arn]

  tags = { Name = "${var.name}-worker-queue-depth-low", Purpose = "autoscaling" }
}
