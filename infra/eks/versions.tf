terraform {
  # Ephemeral resources and write-only arguments (the Redis password never reaches the state):
  # OpenTofu 1.11 and Terraform 1.11 and later.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "6.28.0"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "3.1.2"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "3.2.1"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.9.0"
    }
  }

  # Remote state in S3 with S3's own lock file (no DynamoDB table). Bucket, key and region are given
  # at init: `tofu init -backend-config=backend.hcl` (README.md).
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
