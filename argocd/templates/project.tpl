{{- $env := include "argocd.environment" . | fromYaml -}}
# The AppProject of the environment's Application: the smallest set of permissions that lets Argo CD
# deploy the chart there.
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: {{ .Values.name }}
  namespace: {{ .Values.argocdNamespace }}
spec:
  description: hit-counter, deployed from this repository only
  # The only source: this repository.
  sourceRepos:
    - {{ include "argocd.repoURL" . | quote }}
  # Only the environment's own destination.
  destinations:
    {{- list $env.destination | toYaml | nindent 4 }}
  # Cluster-scoped: only the Namespace, so that CreateNamespace=true can create it (Argo CD checks
  # the namespace it creates against this list too). The list matches kinds, not names: the
  # policy of namespace-policy.tpl denies Argo CD every other Namespace.
  clusterResourceWhitelist:
    - group: ''
      kind: Namespace
  # Namespaced: exactly the kinds the chart renders (test/gitops checks both directions).
  namespaceResourceWhitelist:
    - group: ''
      kind: ConfigMap
    - group: ''
      kind: PersistentVolumeClaim
    - group: ''
      kind: Secret
    - group: ''
      kind: Service
    - group: ''
      kind: ServiceAccount
    - group: apps
      kind: Deployment
    - group: apps
      kind: StatefulSet
    - group: autoscaling
      kind: HorizontalPodAutoscaler
    - group: batch
      kind: CronJob
    - group: monitoring.coreos.com
      kind: PrometheusRule
    - group: monitoring.coreos.com
      kind: ServiceMonitor
    - group: networking.k8s.io
      kind: Ingress
    - group: networking.k8s.io
      kind: NetworkPolicy
    - group: policy
      kind: PodDisruptionBudget
    {{- with .Values.cluster.namespaceResources }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  # Report objects in the namespace that no Application manages.
  orphanedResources:
    warn: true
