# Argo CD, then this repository's AppProject and eks Application as argocd/ has them, with two
# additions made here:
# - the Application's spec.source.helm.valuesObject: what this module created and the chart must
#   know (the backup bucket, the secret store and the secret's name), applied by Argo CD on top of
#   environments/eks/values.yaml;
# - the AppProject's whitelist gains ExternalSecret, a kind only this cluster's Application renders.
# From then on Argo CD syncs the eks environment from git by itself.
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
  }

  repo_url = coalesce(var.repo_url, local.application.spec.source.repoURL)

  argocd_project = merge(local.project, {
    spec = merge(local.project.spec, {
      sourceRepos = var.repo_url == null ? tolist(local.project.spec.sourceRepos) : [var.repo_url]
      namespaceResourceWhitelist = concat(
        local.project.spec.namespaceResourceWhitelist,
        [{ group = "external-secrets.io", kind = "ExternalSecret" }],
      )
    })
  })

  argocd_application = merge(local.application, {
    spec = merge(local.application.spec, {
      source = merge(local.application.spec.source, {
        repoURL = local.repo_url
        helm    = merge(local.application.spec.source.helm, { valuesObject = local.cluster_values })
      })
    })
  })
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
  chart     = "${path.module}/charts/manifests"

  values = [yamlencode({ manifests = [local.argocd_project, local.argocd_application] })]

  depends_on = [
    helm_release.kube_prometheus_stack,
    helm_release.secret_store,
    kubernetes_storage_class_v1.gp3,
    module.backup_pod_identity,
  ]
}
