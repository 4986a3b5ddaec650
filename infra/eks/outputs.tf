output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "region" {
  description = "AWS region of everything made here."
  value       = var.region
}

output "kubeconfig_command" {
  description = "The command that points kubectl at the cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}"
}

output "vpc_id" {
  description = "ID of the VPC (the destroy script waits until no load balancer is left in it)."
  value       = module.vpc.vpc_id
}

output "argocd_namespace" {
  description = "Namespace of Argo CD and of its AppProject and Application."
  value       = helm_release.argocd.namespace
}

output "app_namespace" {
  description = "Namespace hit-counter runs in (its Ingress is the ALB)."
  value       = local.app_namespace
}

output "url" {
  description = "The app's URL, once dns.sh has pointed domain_name at the ALB."
  value       = "https://${var.domain_name}/"
}

output "domain_name" {
  description = "Host name of the app (dns.sh and destroy.sh make and delete its record)."
  value       = var.domain_name
}

output "hosted_zone_id" {
  description = "Route 53 hosted zone of domain_name."
  value       = var.hosted_zone_id
}

output "certificate_arn" {
  description = "ARN of the ACM certificate of the ALB's HTTPS listener (issued: DNS-validated)."
  value       = aws_acm_certificate_validation.app.certificate_arn
}

output "cluster_values" {
  description = "The values this module hands to the eks Application (spec.source.helm.valuesObject), on top of environments/eks/values.yaml."
  value       = local.cluster_values
}

output "redis_password_secret" {
  description = "Name of the Secrets Manager secret holding the Redis users' passwords, a JSON object with a <user>-password property each (aws secretsmanager get-secret-value --secret-id <name>)."
  value       = aws_secretsmanager_secret.redis.name
}

output "pod_identity_roles" {
  description = "IAM role of each workload that talks to AWS, through EKS Pod Identity."
  value = {
    ebs_csi          = module.ebs_csi_pod_identity.iam_role_arn
    lb_controller    = module.lb_controller_pod_identity.iam_role_arn
    external_secrets = module.external_secrets_pod_identity.iam_role_arn
    redis_backup     = module.backup_pod_identity.iam_role_arn
  }
}
