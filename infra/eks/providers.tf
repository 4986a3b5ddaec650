provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ project = "hit-counter", cluster = var.name }, var.tags)
  }
}

# Both talk to the new cluster as the identity running tofu (its access entry is the cluster
# creator's admin entry, eks.tf), with a token from the aws CLI.
locals {
  cluster_auth = {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--region", var.region, "--cluster-name", module.eks.cluster_name]
    }
  }
}

provider "kubernetes" {
  host                   = local.cluster_auth.host
  cluster_ca_certificate = local.cluster_auth.cluster_ca_certificate

  exec {
    api_version = local.cluster_auth.exec.api_version
    command     = local.cluster_auth.exec.command
    args        = local.cluster_auth.exec.args
  }
}

provider "helm" {
  kubernetes = local.cluster_auth
}
