locals {
  names = {
    for k, q in var.queues : k => {
      queue = q.fifo ? "${var.name}-${k}.fifo" : "${var.name}-${k}"
      dlq   = q.fifo ? "${var.name}-${k}-dlq.fifo" : "${var.name}-${k}-dlq"
    }
  }
}

resource "aws_sqs_queue" "dlq" {
  for_each = var.queues

  name                        = local.names[each.key].dlq
  fifo_queue                  = each.value.fifo ? true : null
  content_based_deduplication = each.value.fifo ? each.value.content_based_deduplication : null
  message_retention_seconds   = each.value.message_retention_seconds
  visibility_timeout_seconds  = each.value.visibility_timeout_seconds
  max_message_size            = each.value.max_message_size
  sqs_managed_sse_enabled     = true

  tags = {
    Name  = local.names[each.key].dlq
    Queue = each.key
    Role  = "dead-letter"
  }
}

resource "aws_sqs_queue" "this" {
  for_each = var.queues

  name                        = local.names[each.key].queue
  fifo_queue                  = each.value.fifo ? true : null
  content_based_deduplication = each.value.fifo ? each.value.content_based_deduplication : null
  visibility_timeout_seconds  = each.value.visibility_timeout_seconds
  receive_wait_time_seconds   = each.value.receive_wait_time_seconds
  message_retention_seconds   = each.value.message_retention_seconds
  delay_seconds               = each.value.delay_seconds
  max_message_size            = each.value.max_message_size
  sqs_managed_sse_enabled     = true

  tags = {
    Name  = local.names[each.key].queue
    Queue = each.key
    Role  = "main"
  }
}

resource "aws_sqs_queue_redrive_policy" "this" {
  for_each = var.queues

  queue_url = aws_sqs_queue.this[each.key].id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })
}

# Only the matching main queue may use each DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = var.queues

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[each.key].arn]
  })
}
