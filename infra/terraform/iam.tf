# Least privilege for the pipeline: list, read, write and delete only under its own prefix.
data "aws_iam_policy_document" "pipeline" {
  statement {
    sid       = "ListOwnPrefix"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.lake.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        var.pipeline_prefix,
        "${var.pipeline_prefix}/*",
      ]
    }
  }

  statement {
    sid       = "LocateBucket"
    effect    = "Allow"
    actions   = ["s3:GetBucketLocation"]
    resources = [aws_s3_bucket.lake.arn]
  }

  statement {
    sid    = "ReadWriteOwnPrefix"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.lake.arn}/${var.pipeline_prefix}/*"]
  }

  dynamic "statement" {
    for_each = local.use_kms ? [var.kms_key_arn] : []

    content {
      sid       = "UseBucketKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "pipeline" {
  name        = "${var.bucket_name}-pipeline"
  description = "newsdedup pipeline: read/write/list s3://${var.bucket_name}/${var.pipeline_prefix}/ only"
  policy      = data.aws_iam_policy_document.pipeline.json
}

# Optional role for the worker (EC2, ECS task, EKS via IRSA, or another account's role).
data "aws_iam_policy_document" "assume" {
  count = var.create_role ? 1 : 0

  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    dynamic "principals" {
      for_each = length(var.role_trusted_principals) > 0 ? [1] : []

      content {
        type        = "AWS"
        identifiers = var.role_trusted_principals
      }
    }

    dynamic "principals" {
      for_each = length(var.role_trusted_services) > 0 ? [1] : []

      content {
        type        = "Service"
        identifiers = var.role_trusted_services
      }
    }
  }
}

resource "aws_iam_role" "pipeline" {
  count = var.create_role ? 1 : 0

  name               = "${var.bucket_name}-pipeline"
  assume_role_policy = data.aws_iam_policy_document.assume[0].json

  lifecycle {
    precondition {
      condition     = length(var.role_trusted_principals) + length(var.role_trusted_services) > 0
      error_message = "create_role needs at least one entry in role_trusted_principals or role_trusted_services."
    }
  }
}

resource "aws_iam_role_policy_attachment" "pipeline" {
  count = var.create_role ? 1 : 0

  role       = aws_iam_role.pipeline[0].name
  policy_arn = aws_iam_policy.pipeline.arn
}

resource "aws_iam_role_policy_attachment" "existing" {
  for_each = toset(var.attach_to_role_names)

  role       = each.value
  policy_arn = aws_iam_policy.pipeline.arn
}
