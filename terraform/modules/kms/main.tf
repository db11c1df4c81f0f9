data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
}

# Key policy: the account administers the key and delegates use to IAM (task and
# execution roles get kms:Decrypt / GenerateDataKey through their own policies).
# AWS services that write encrypted data on our behalf are allowed explicitly,
# scoped to this account:
#   - SES: writes received mail into the SSE-KMS raw-mail bucket and publishes to
#     the encrypted inbound SNS topic.
#   - CloudWatch: publishes alarm notifications to the encrypted ops-alerts topic.
data "aws_iam_policy_document" "key" {
  statement {
    sid       = "AccountAdministration"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "AllowServicesToEncryptForThisAccount"
    actions   = ["kms:GenerateDataKey*", "kms:Encrypt", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com", "cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: mail buckets, SNS topics, SSM SecureStrings, RDS master secret"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = data.aws_iam_policy_document.key.json

  tags = { Name = var.name }
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
