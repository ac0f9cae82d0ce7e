output "bucket_name" {
  description = "Name of the pipeline bucket."
  value       = aws_s3_bucket.lake.id
}

output "bucket_arn" {
  description = "ARN of the pipeline bucket."
  value       = aws_s3_bucket.lake.arn
}

output "output_root" {
  description = "Value for NEWSDEDUP_OUTPUT (or the flows' `output` parameter)."
  value       = "s3://${aws_s3_bucket.lake.id}/${var.pipeline_prefix}"
}

output "pipeline_policy_arn" {
  description = "IAM policy granting read/write/list on the pipeline prefix only."
  value       = aws_iam_policy.pipeline.arn
}

output "pipeline_role_arn" {
  description = "ARN of the pipeline role, when create_role is true."
  value       = var.create_role ? aws_iam_role.pipeline[0].arn : null
}
