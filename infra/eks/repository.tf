# What this module reads from the repository instead of repeating it: the AppProject and the eks
# Application exactly as argocd/ has them, and the eks environment's values (the StorageClass name,
# the kube-prometheus-stack release name).
locals {
  repo_root   = "${path.module}/../.."
  project     = yamldecode(file("${local.repo_root}/argocd/project.yaml"))
  application = yamldecode(file("${local.repo_root}/argocd/applications/hit-counter-eks.yaml"))
  eks_values  = yamldecode(file("${local.repo_root}/environments/eks/values.yaml"))

  argocd_namespace = local.application.metadata.namespace
  app_namespace    = local.application.spec.destination.namespace
  # The chart names its objects after the release (hc.base in _names.tpl: the release name itself
  # when it contains "hit-counter"); the backup ServiceAccount is <release>-redis-backup.
  backup_service_account = "${local.application.spec.source.helm.releaseName}-redis-backup"
}
