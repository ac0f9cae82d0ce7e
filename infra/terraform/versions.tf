terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # aws_s3_bucket_* split resources and lifecycle `filter` blocks need 5.x or later.
      version = ">= 5.0, < 7.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ project = "newsdedup" }, var.tags)
  }
}
