variable "region" {
  description = "AWS region of the cluster, its VPC, the backup bucket and the Redis password secret."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name of the cluster; also the prefix of every AWS resource made here (lower case, at most 20 characters)."
  type        = string
  default     = "hit-counter"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.name))
    error_message = "name must be 2-20 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "domain_name" {
  description = "Host name the app is served at over HTTPS (https://<domain_name>/), e.g. hits.example.com: the name of its ACM certificate and the host rule of its Ingress. Must be in the Route 53 zone hosted_zone_id. Required: no default."
  type        = string

  validation {
    condition = (
      length(var.domain_name) <= 253
      && can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$", var.domain_name))
    )
    error_message = "domain_name must be a fully qualified host name in lower case, such as hits.example.com: no scheme, port, path, trailing dot or wildcard."
  }
}

variable "hosted_zone_id" {
  description = "ID of the Route 53 public hosted zone that holds domain_name (aws route53 list-hosted-zones-by-name --dns-name <zone>): the certificate's DNS validation record goes there, and dns.sh points domain_name at the ALB in it. Required: no default."
  type        = string

  validation {
    condition     = can(regex("^Z[0-9A-Z]{1,31}$", var.hosted_zone_id))
    error_message = "hosted_zone_id must be a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ (without the /hostedzone/ prefix)."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version (<major>.<minor>). 1.34 is the version the chart is tested with (the local cluster runs v1.34.4)."
  type        = string
  default     = "1.34"
}

variable "vpc_cidr" {
  description = "CIDR of the VPC. Each of the 3 availability zones gets a private subnet of 1/16 of it (nodes and pods) and a public one of 1/256 (load balancers, NAT)."
  type        = string
  default     = "10.0.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for the 3 zones (cheaper; a zone outage then cuts the others' outbound traffic). false: one per zone."
  type        = bool
  default     = true
}

variable "node_instance_types" {
  description = "EC2 instance types of the managed node group, in order of preference."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "node_size" {
  description = "Nodes of the managed node group: min, desired and max (the module applies desired at creation only). At least 3, one per zone: the service spreads its pods over the zones."
  type = object({
    min     = number
    desired = number
    max     = number
  })
  default = { min = 3, desired = 3, max = 6 }

  validation {
    condition     = var.node_size.min <= var.node_size.desired && var.node_size.desired <= var.node_size.max
    error_message = "node_size must have min <= desired <= max."
  }
}

variable "api_public_cidrs" {
  description = "CIDRs that may reach the cluster's public API endpoint (tofu, kubectl and the destroy script use it). Narrow it to your own addresses."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "repo_url" {
  description = "Git URL Argo CD deploys from. null: repoURL of argocd/values.yaml (what `npm run gitops:set-repo` writes)."
  type        = string
  default     = null
}

variable "destroy_backups" {
  description = "Whether tofu destroy also deletes the backup bucket with every backup in it. false: destroy stops at a non-empty bucket."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days a Redis backup is kept in the S3 bucket."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags added to every AWS resource."
  type        = map(string)
  default     = {}
}
