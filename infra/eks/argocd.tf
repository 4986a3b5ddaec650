# Argo CD, then the bootstrap of the eks environment: the repository's argocd/ chart installed with
# `environment = "eks"` (what `helm template argocd --set environment=eks | kubectl apply` does
# elsewhere), its root Application then keeping it equal to git. The chart's `cluster` values carry
# what only this module knows, and the root hands them back on every sync:
# - `values`: the eks Application's spec.source.helm.valuesObject (the backup bucket, the secret
#   store and the secret's name, the host name, its certificate and the ALB's subnets), applied by
#   Argo CD on top of environments/eks/values.yaml;
# - `namespaceResources`: ExternalSecret in the AppProject's whitelist, a kind only this cluster's
#   Application renders;
# - `repoURL`: var.repo_url, when set.
locals {
  cluster_values = {
    redis = {
      backup = {
        s3 = { uri = "s3://${aws_s3_bucket.backups.bucket}/${local.backup_prefix}", region = var.region }
      }
      externalSecret = {
        enabled        = true
        secretStoreRef = { kind = "ClusterSecretStore", name = local.secret_store }
        remoteRef      = { key = aws_secretsmanager_secret.redis.name }
      }
    }
    nginx = {
      ingress = {
        # The ALB answers this name only (other hosts get its 404) ...
        host = var.domain_name
        # ... with the certificate of https.tf, once issued (replaces the placeholder ARN).
        annotations = {
          "alb.ingress.kubernetes.io/certificate-arn" = aws_acm_certificate_validation.app.certificate_arn
        }
        # Where the ALB connects to nginx from: its network interfaces are in the public subnets
        # only, so a pod (private subnets) cannot pass off an X-Forwarded-For as a client's.
        realIpFrom = module.vpc.public_subnets_cidr_blocks
      }
    }
  }

  argocd_bootstrap = {
    environment = "eks"
    cluster = merge(
      {
        values             = local.cluster_values
        namespaceResources = [{ group = "external-secrets.io", kind = "ExternalSecret" }]
      },
      { for k, v in { repoURL = var.repo_url } : k => v if v != null },
    )
  }
}

resource "helm_release" "argocd" {
  name             = "argocd"
  namespace        = local.argocd_namespace
  create_namespace = true
  repository       = "https://argoproj.github.io/argo-helm"
  chart            = "argo-cd"
  version          = "9.3.7"

  values = [yamlencode({
    # The chart ships v3.2.6; v3.2.11 is the Argo CD the repository's tests run.
    global        = { image = { tag = "v3.2.11" } }
    dex           = { enabled = false }
    notifications = { enabled = false }
  })]

  depends_on = [helm_release.aws_load_balancer_controller]
}

# Created last: by then every API the chart renders for (ServiceMonitor, ExternalSecret), the store,
# the StorageClass and the backup's Pod Identity exist, so Argo CD's first sync is complete.
resource "helm_release" "argocd_apps" {
  name      = "hit-counter-apps"
  namespace = helm_release.argocd.namespace
  chart     = "${path.module}/../../argocd"

  values = [yamlencode(local.argocd_bootstrap)]

  depends_on = [
    helm_release.kube_prometheus_stack,
    helm_release.secret_store,
    kubernetes_storage_class_v1.gp3,
    module.backup_pod_identity,
  ]
}
