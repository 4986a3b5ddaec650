# What this module reads from the repository instead of repeating it: Argo CD's facts
# (argocd/values.yaml: its namespace, the eks environment's destination, the pinned release name)
# and the eks environment's values (the StorageClass name, the kube-prometheus-stack release name).
locals {
  repo_root  = "${path.module}/../.."
  gitops     = yamldecode(file("${local.repo_root}/argocd/values.yaml"))
  eks_values = yamldecode(file("${local.repo_root}/environments/eks/values.yaml"))

  argocd_namespace = local.gitops.argocdNamespace
  app_namespace    = local.gitops.environments.eks.destination.namespace
  # The chart names its objects after the release (hc.base in _names.tpl: the release name itself
  # when it contains "hit-counter"); the backup ServiceAccount is <release>-redis-backup.
  backup_service_account = "${local.gitops.chart.releaseName}-redis-backup"
}
