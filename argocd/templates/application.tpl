{{- $env := include "argocd.environment" . | fromYaml -}}
# hit-counter in the selected environment: the chart with the environment's values on top.
# Merging a change to those values is a deployment.
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ .Values.name }}-{{ .Values.environment }}
  namespace: {{ .Values.argocdNamespace }}
  # Deleting the Application deletes what it deployed.
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: {{ .Values.name }}
  source:
    repoURL: {{ include "argocd.repoURL" . | quote }}
    targetRevision: {{ $env.targetRevision | quote }}
    path: {{ .Values.chart.path }}
    helm:
      releaseName: {{ .Values.chart.releaseName }}
      # Relative to the chart's path (one source: chart and values always from the same commit).
      valueFiles:
        - {{ repeat (len (splitList "/" (trimSuffix "/" .Values.chart.path))) "../" }}{{ $env.valuesFile }}
      {{- with .Values.cluster.values }}
      valuesObject:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  destination:
    {{- toYaml $env.destination | nindent 4 }}
  # No ignoreDifferences: the chart omits replicas when the HPA manages them and renders nothing
  # random, so a synced app shows no diff.
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - CreateNamespace=true
      # Server-side apply: no last-applied annotation (the dashboard ConfigMap stays below the
      # annotation size limit) and fields other controllers own are not fought over.
      - ServerSideApply=true
    managedNamespaceMetadata:
      labels:
        pod-security.kubernetes.io/enforce: restricted
    {{- include "argocd.retry" . | nindent 4 }}
  revisionHistoryLimit: 10
