variable "region" {
  description = "AWS region of the bucket."
  type        = string
  default     = "eu-west-1"
}

variable "bucket_name" {
  description = "Name of the S3 bucket the pipeline publishes to (globally unique)."
  type        = string
}

variable "pipeline_prefix" {
  description = "Key prefix of the pipeline's output root inside the bucket (s3://bucket/<prefix>). No leading or trailing slash."
  type        = string
  default     = "lake"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.pipeline_prefix))
    error_message = "pipeline_prefix must be a non-empty key prefix without leading or trailing slashes."
  }
}

variable "raw_subprefix" {
  description = "Folder under the output root holding raw fetched pages, expired after raw_expiration_days."
  type        = string
  default     = "raw"
}

variable "raw_expiration_days" {
  description = "Days after which objects under <pipeline_prefix>/<raw_subprefix>/ are expired."
  type        = number
  default     = 30

  validation {
    condition     = var.raw_expiration_days >= 1
    error_message = "raw_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed for good."
  type        = number
  default     = 14

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS. Null encrypts with S3-managed keys (AES256)."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete a non-empty bucket. Keep false outside test accounts."
  type        = bool
  default     = false
}

variable "create_role" {
  description = "Create an IAM role for the pipeline, assumable by role_trusted_principals, with the policy attached."
  type        = bool
  default     = false
}

variable "role_trusted_principals" {
  description = "AWS principal ARNs allowed to assume the pipeline role (e.g. the worker's instance or task role)."
  type        = list(string)
  default     = []
}

variable "role_trusted_services" {
  description = "AWS service principals allowed to assume the pipeline role (e.g. ecs-tasks.amazonaws.com)."
  type        = list(string)
  default     = []
}

variable "attach_to_role_names" {
  description = "Existing IAM role names to attach the pipeline policy to."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
