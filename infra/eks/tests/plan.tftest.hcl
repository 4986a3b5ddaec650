# Plan-only tests of infra/eks: every provider is mocked, so no AWS account and no cluster are needed
# (`tofu init -backend=false && tofu test`). They check how the module wires things together and
# that it takes its facts from the repository's files; what AWS and the cluster accept only an
# apply shows.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333", arn = "arn:aws:iam::111122223333:user/ci" }
  }
  mock_data "aws_iam_session_context" {
    defaults = { issuer_arn = "arn:aws:iam::111122223333:user/ci" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_route53_zone" {
    defaults = { name = "example.com", private_zone = false }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}
mock_provider "helm" {}
mock_provider "kubernetes" {}
mock_provider "random" {}
# Used inside the EKS module.
mock_provider "tls" {}
mock_provider "time" {}
mock_provider "cloudinit" {}
mock_provider "null" {}

# The two variables without a default.
variables {
  domain_name    = "hits.example.com"
  hosted_zone_id = "Z0123456789ABCDEFGHIJ"
}

run "cluster" {
  command = plan

  assert {
    condition     = module.eks.aws_eks_cluster.this[0].version == "1.34"
    error_message = "EKS must run Kubernetes 1.34, the version the chart is tested with."
  }
  assert {
    condition     = length(distinct(module.vpc.aws_subnet.private[*].availability_zone)) == 3
    error_message = "The private subnets must span 3 availability zones."
  }
  assert {
    condition     = module.vpc.aws_subnet.public[0].tags["kubernetes.io/role/elb"] == "1"
    error_message = "Public subnets must carry the tag the AWS Load Balancer Controller looks for."
  }
  assert {
    condition     = module.eks.module.eks_managed_node_group["default"].aws_eks_node_group.this[0].scaling_config[0].min_size >= 3
    error_message = "The managed node group needs a node in each of the 3 zones."
  }
  assert {
    condition     = jsondecode(module.eks.aws_eks_addon.before_compute["vpc-cni"].configuration_values).enableNetworkPolicy == "true"
    error_message = "The VPC CNI must enforce the chart's NetworkPolicies."
  }
  assert {
    condition     = contains(keys(module.eks.aws_eks_addon.this), "metrics-server")
    error_message = "The service's HorizontalPodAutoscaler needs the metrics API."
  }
  assert {
    condition     = length(module.eks.aws_iam_openid_connect_provider.oidc_provider) == 0
    error_message = "Pod Identity only: no IRSA OIDC provider."
  }
}

run "pod_identity" {
  command = plan

  assert {
    condition = (
      one(module.eks.aws_eks_addon.this["aws-ebs-csi-driver"].pod_identity_association).role_arn == module.ebs_csi_pod_identity.iam_role_arn
      && one(module.eks.aws_eks_addon.this["aws-ebs-csi-driver"].pod_identity_association).service_account == "ebs-csi-controller-sa"
    )
    error_message = "The EBS CSI controller must get its role through Pod Identity."
  }
  assert {
    condition = (
      module.lb_controller_pod_identity.aws_eks_pod_identity_association.this["controller"].namespace == helm_release.aws_load_balancer_controller.namespace
      && module.lb_controller_pod_identity.aws_eks_pod_identity_association.this["controller"].service_account == yamldecode(helm_release.aws_load_balancer_controller.values[0]).serviceAccount.name
    )
    error_message = "The AWS Load Balancer Controller's ServiceAccount must be the one its role is associated with."
  }
  assert {
    condition = (
      module.external_secrets_pod_identity.aws_eks_pod_identity_association.this["controller"].namespace == helm_release.external_secrets.namespace
      && module.external_secrets_pod_identity.aws_eks_pod_identity_association.this["controller"].service_account == yamldecode(helm_release.external_secrets.values[0]).serviceAccount.name
    )
    error_message = "External Secrets Operator's ServiceAccount must be the one its role is associated with."
  }
  assert {
    condition = (
      module.backup_pod_identity.aws_eks_pod_identity_association.this["backup"].namespace == yamldecode(file("../../argocd/values.yaml")).environments.eks.destination.namespace
      && module.backup_pod_identity.aws_eks_pod_identity_association.this["backup"].service_account == "hit-counter-redis-backup"
    )
    error_message = "The backup role must be associated with the chart's backup ServiceAccount in the app's namespace."
  }
  assert {
    condition = alltrue([
      for a in [
        module.lb_controller_pod_identity.aws_eks_pod_identity_association.this["controller"],
        module.external_secrets_pod_identity.aws_eks_pod_identity_association.this["controller"],
        module.backup_pod_identity.aws_eks_pod_identity_association.this["backup"],
      ] : a.cluster_name == module.eks.cluster_name
    ])
    error_message = "Every Pod Identity association must be on this cluster."
  }
}

run "addons" {
  command = plan

  assert {
    condition = (
      kubernetes_storage_class_v1.gp3.metadata[0].name == yamldecode(file("../../environments/eks/values.yaml")).redis.persistence.storageClass
      && kubernetes_storage_class_v1.gp3.metadata[0].name == yamldecode(file("../../environments/eks/values.yaml")).redis.backup.persistence.storageClass
    )
    error_message = "The StorageClass must have the name the eks values give the Redis and backup volumes."
  }
  assert {
    condition = (
      kubernetes_storage_class_v1.gp3.metadata[0].annotations["storageclass.kubernetes.io/is-default-class"] == "true"
      && kubernetes_storage_class_v1.gp3.storage_provisioner == "ebs.csi.aws.com"
      && kubernetes_storage_class_v1.gp3.parameters.type == "gp3"
      && kubernetes_storage_class_v1.gp3.volume_binding_mode == "Immediate"
    )
    error_message = "The default StorageClass must be EBS gp3, bound at once (a Pending PVC keeps Argo CD Progressing)."
  }
  assert {
    condition     = helm_release.kube_prometheus_stack.name == yamldecode(file("../../environments/eks/values.yaml")).servicemonitor.labels.release
    error_message = "kube-prometheus-stack's release name must be the servicemonitor.labels.release of the eks values."
  }
  assert {
    condition     = helm_release.kube_prometheus_stack.namespace == yamldecode(file("../../charts/hit-counter/values.yaml")).global.networkPolicy.metrics.namespaceSelector.matchLabels["kubernetes.io/metadata.name"]
    error_message = "Prometheus must run in the namespace the chart's NetworkPolicies let scrape."
  }
  assert {
    condition = alltrue([
      for r in [
        helm_release.aws_load_balancer_controller,
        helm_release.kube_prometheus_stack,
        helm_release.external_secrets,
        helm_release.argocd,
      ] : can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", r.version))
    ])
    error_message = "Every chart from a repository must be pinned to an exact version."
  }
}

run "secret" {
  command = plan

  assert {
    condition     = output.cluster_values.redis.externalSecret.remoteRef.key == aws_secretsmanager_secret.redis.name
    error_message = "The chart's ExternalSecret must read the Secrets Manager secret made here."
  }
  assert {
    condition = (
      yamldecode(helm_release.secret_store.values[0]).manifests[0].kind == output.cluster_values.redis.externalSecret.secretStoreRef.kind
      && yamldecode(helm_release.secret_store.values[0]).manifests[0].metadata.name == output.cluster_values.redis.externalSecret.secretStoreRef.name
      && yamldecode(helm_release.secret_store.values[0]).manifests[0].spec.conditions[0].namespaces == [output.app_namespace]
    )
    error_message = "The ExternalSecret must name the ClusterSecretStore made here, open to the app's namespace only."
  }
  assert {
    condition     = yamldecode(file("../../environments/eks/values.yaml")).global.redis.auth.existingSecret != ""
    error_message = "The eks values must name the Secret the ExternalSecret creates (global.redis.auth.existingSecret)."
  }
  assert {
    condition     = aws_secretsmanager_secret_version.redis.secret_string_wo_version == 1
    error_message = "The password is written through the write-only argument."
  }
}

run "argocd" {
  command = plan

  assert {
    condition     = helm_release.argocd_apps.namespace == yamldecode(file("../../argocd/values.yaml")).argocdNamespace
    error_message = "The AppProjects and Applications go into Argo CD's namespace."
  }
  assert {
    condition     = endswith(helm_release.argocd_apps.chart, "/../../argocd")
    error_message = "The bootstrap must install the repository's argocd/ chart, not a copy."
  }
  assert {
    condition     = yamldecode(helm_release.argocd_apps.values[0]).environment == "eks"
    error_message = "This cluster deploys the eks environment only."
  }
  assert {
    condition     = yamldecode(helm_release.argocd_apps.values[0]).cluster.values == output.cluster_values
    error_message = "The cluster's facts reach the chart as the eks Application's valuesObject."
  }
  assert {
    condition     = yamldecode(helm_release.argocd_apps.values[0]).cluster.namespaceResources == [{ group = "external-secrets.io", kind = "ExternalSecret" }]
    error_message = "The AppProject must also permit the ExternalSecret."
  }
  assert {
    condition     = !contains(keys(yamldecode(helm_release.argocd_apps.values[0]).cluster), "repoURL")
    error_message = "Without repo_url the repository is argocd/values.yaml's."
  }
  assert {
    condition     = startswith(output.cluster_values.redis.backup.s3.uri, "s3://${aws_s3_bucket.backups.bucket}/")
    error_message = "Backups go to the bucket made here."
  }
}

run "https" {
  command = plan

  assert {
    condition = (
      aws_acm_certificate.app.domain_name == "hits.example.com"
      && aws_acm_certificate.app.validation_method == "DNS"
    )
    error_message = "The certificate is for domain_name only, validated through DNS."
  }
  assert {
    condition     = aws_route53_record.certificate_validation.zone_id == "Z0123456789ABCDEFGHIJ"
    error_message = "The validation record goes into the zone hosted_zone_id."
  }
  assert {
    condition     = output.cluster_values.nginx.ingress.host == "hits.example.com"
    error_message = "The Ingress's host rule is domain_name (what dns.sh looks the Ingress up by)."
  }
  assert {
    condition = contains(
      keys(yamldecode(file("../../environments/eks/values.yaml")).nginx.ingress.annotations),
      one(keys(output.cluster_values.nginx.ingress.annotations)),
    )
    error_message = "The certificate ARN must replace an annotation of the eks values (the placeholder), not add one."
  }
  assert {
    condition = (
      output.cluster_values.nginx.ingress.realIpFrom == module.vpc.public_subnets_cidr_blocks
      && length(output.cluster_values.nginx.ingress.realIpFrom) == 3
    )
    error_message = "nginx takes the client's address from the ALB's subnets, the public ones, only."
  }
  assert {
    condition     = output.url == "https://hits.example.com/"
    error_message = "The app is at https://<domain_name>/."
  }
}

run "fork" {
  command = plan

  variables {
    repo_url = "https://example.com/someone/hit-counter.git"
  }

  assert {
    condition     = yamldecode(helm_release.argocd_apps.values[0]).cluster.repoURL == "https://example.com/someone/hit-counter.git"
    error_message = "repo_url must replace the repository (the chart puts it in the AppProjects and the Applications)."
  }
}

run "bad_name" {
  command = plan

  variables {
    name = "Not_A_Name"
  }

  expect_failures = [var.name]
}

run "bad_domain" {
  command = plan

  variables {
    domain_name = "https://Hits.example.com/"
  }

  expect_failures = [var.domain_name]
}

run "bad_zone" {
  command = plan

  variables {
    hosted_zone_id = "/hostedzone/Z0123456789ABCDEFGHIJ"
  }

  expect_failures = [var.hosted_zone_id]
}

run "zone_without_the_name" {
  command = plan

  variables {
    domain_name = "hits.example.org"
  }

  expect_failures = [data.aws_route53_zone.app]
}
