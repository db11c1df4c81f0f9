data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  buckets = {
    raw_mail = {
      name            = "${var.name}-raw-mail-${local.account_id}"
      expiration_days = var.raw_mail_expiration_days
      purpose         = "raw-mail"
    }
    attachments = {
      name            = "${var.name}-attachments-${local.account_id}"
      expiration_days = var.attachments_expiration_days
      purpose         = "attachments"
    }
  }

  rule_set_name = "${var.name}-inbound"
  rule_name     = "${var.name}-store-inbound"
}

# ================================================================ buckets
resource "aws_s3_bucket" "this" {
  for_each = local.buckets

  bucket        = each.value.name
  force_destroy = var.force_destroy_buckets

  tags = { Name = each.value.name, Purpose = each.value.purpose }
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = local.buckets

  bucket                  = aws_s3_bucket.this[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  rule {
    id     = "expire-${each.value.purpose}"
    status = "Enabled"

    filter {}

    expiration {
      days = each.value.expiration_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket" {
  for_each = local.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this[each.key].arn,
      "${aws_s3_bucket.this[each.key].arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # SES stores received mail under the inbound prefix of the raw-mail bucket only.
  dynamic "statement" {
    for_each = each.key == "raw_mail" ? [1] : []
    content {
      sid       = "AllowSESPutInbound"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.this[each.key].arn}/${var.inbound_prefix}*"]

      principals {
        type        = "Service"
        identifiers = ["ses.amazonaws.com"]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:Referer"
        values   = [local.account_id]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# ================================================================ S3 -> SQS inbound
data "aws_iam_policy_document" "inbound_queue" {
  statement {
    sid       = "AllowRawMailBucketNotifications"
    actions   = ["sqs:SendMessage"]
    resources = [var.inbound_queue_arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.this["raw_mail"].arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # The SES receipt notifications of the S3 action (via the inbound topic) carry the SMTP envelope.
  statement {
    sid       = "AllowInboundTopicNotifications"
    actions   = ["sqs:SendMessage"]
    resources = [var.inbound_queue_arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.inbound.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "inbound" {
  queue_url = var.inbound_queue_url
  policy    = data.aws_iam_policy_document.inbound_queue.json
}

resource "aws_s3_bucket_notification" "raw_mail" {
  bucket = aws_s3_bucket.this["raw_mail"].id

  queue {
    id            = "inbound-to-sqs"
    queue_arn     = var.inbound_queue_arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = var.inbound_prefix
  }

  depends_on = [aws_sqs_queue_policy.inbound]
}

# ================================================================ SES identity + DNS
resource "aws_ses_domain_identity" "this" {
  domain = var.mail_domain
}

resource "aws_route53_record" "ses_verification" {
  zone_id = var.zone_id
  name    = "_amazonses.${var.mail_domain}"
  type    = "TXT"
  ttl     = 600
  records = [aws_ses_domain_identity.this.verification_token]
}

resource "aws_ses_domain_identity_verification" "this" {
  count = var.wait_for_ses_verification ? 1 : 0

  domain     = aws_ses_domain_identity.this.domain
  depends_on = [aws_route53_record.ses_verification]
}

resource "aws_ses_domain_dkim" "this" {
  domain = aws_ses_domain_identity.this.domain
}

resource "aws_route53_record" "dkim" {
  count = 3

  zone_id = var.zone_id
  name    = "${aws_ses_domain_dkim.this.dkim_tokens[count.index]}._domainkey.${var.mail_domain}"
  type    = "CNAME"
  ttl     = 600
  records = ["${aws_ses_domain_dkim.this.dkim_tokens[count.index]}.dkim.amazonses.com"]
}

resource "aws_route53_record" "mx" {
  zone_id = var.zone_id
  name    = var.mail_domain
  type    = "MX"
  ttl     = 600
  records = ["10 inbound-smtp.${local.region}.amazonaws.com"]
}

# ================================================================ inbound SNS topic
resource "aws_sns_topic" "inbound" {
  name              = "${var.name}-inbound"
  kms_master_key_id = var.kms_key_arn

  tags = { Name = "${var.name}-inbound" }
}

data "aws_iam_policy_document" "inbound_topic" {
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
    resources = [aws_sns_topic.inbound.arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "AllowSESPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.inbound.arn]

    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "inbound" {
  arn    = aws_sns_topic.inbound.arn
  policy = data.aws_iam_policy_document.inbound_topic.json
}

# The worker takes the SMTP envelope (every accepted recipient) from SES's notification: the stored mail
# names one recipient only. Only the S3 action's "Received" notifications go to the worker's queue.
resource "aws_sns_topic_subscription" "inbound_queue" {
  topic_arn            = aws_sns_topic.inbound.arn
  protocol             = "sqs"
  endpoint             = var.inbound_queue_arn
  raw_message_delivery = true
  filter_policy_scope  = "MessageBody"
  filter_policy = jsonencode({
    notificationType = ["Received"]
    receipt          = { action = { type = ["S3"] } }
  })

  depends_on = [aws_sqs_queue_policy.inbound]
}

resource "aws_sns_topic_subscription" "api_webhook" {
  topic_arn              = aws_sns_topic.inbound.arn
  protocol               = "https"
  endpoint               = var.api_webhook_url
  endpoint_auto_confirms = false
}

# Optional debug fan-out (seed 000 flags it as prod data leakage: keep it off outside debugging).
resource "aws_sqs_queue" "debug" {
  count = var.enable_debug_queue ? 1 : 0

  name                      = "${var.name}-inbound-debug"
  message_retention_seconds = 345600
  sqs_managed_sse_enabled   = true

  tags = { Name = "${var.name}-inbound-debug", Queue = "inbound-debug", Role = "debug" }
}

data "aws_iam_policy_document" "debug_queue" {
  count = var.enable_debug_queue ? 1 : 0

  statement {
    sid       = "AllowInboundTopic"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.debug[0].arn]

    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.inbound.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "debug" {
  count = var.enable_debug_queue ? 1 : 0

  queue_url = aws_sqs_queue.debug[0].id
  policy    = data.aws_iam_policy_document.debug_queue[0].json
}

resource "aws_sns_topic_subscription" "debug" {
  count = var.enable_debug_queue ? 1 : 0

  topic_arn = aws_sns_topic.inbound.arn
  protocol  = "sqs"
  endpoint  = aws_sqs_queue.debug[0].arn

  depends_on = [aws_sqs_queue_policy.debug]
}

# ================================================================ SES receipt rules
resource "aws_ses_receipt_rule_set" "this" {
  rule_set_name = local.rule_set_name
}

resource "aws_ses_receipt_rule" "store" {
  name          = local.rule_name
  rule_set_name = aws_ses_receipt_rule_set.this.rule_set_name
  recipients    = [var.mail_domain]
  enabled       = true
  scan_enabled  = var.scan_enabled
  tls_policy    = var.tls_policy

  # The S3 action's topic gets a notification without the mail's content (bucket, object key, envelope),
  # whatever the mail's size; an SNS action would carry the content and bounce mail over 150 KB.
  s3_action {
    position          = 1
    bucket_name       = aws_s3_bucket.this["raw_mail"].id
    object_key_prefix = var.inbound_prefix
    topic_arn         = aws_sns_topic.inbound.arn
  }

  # SES checks at creation that it may write to the bucket and publish to the topic.
  depends_on = [
    aws_s3_bucket_policy.this,
    aws_s3_bucket_server_side_encryption_configuration.this,
    aws_sns_topic_policy.inbound,
  ]
}

resource "aws_ses_active_receipt_rule_set" "this" {
  rule_set_name = aws_ses_receipt_rule_set.this.rule_set_name

  depends_on = [aws_ses_receipt_rule.store]
}
