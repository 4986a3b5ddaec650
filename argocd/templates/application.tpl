{{- $env := include "argocd.environment" . | fromYaml -}}
# hit-counter in the selected environment: the chart with the environment's values on top.
# Merging a change to those values is a deployment; with a chartRevision, a change to the chart is
# deployed there only when promotion moves it.
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
    {{- if $env.chartRevision }}
    # The chart at the pinned commit, the values file as this chart is read (argocd/environments
    # links to environments/): Argo CD v3.2 refuses one Application that reads two commits of one
    # repository (a multi-source `ref` to the values file at main).
    targetRevision: {{ $env.chartRevision | quote }}
    {{- else }}
    targetRevision: {{ $env.targetRevision | quote }}
    {{- end }}
    path: {{ .Values.chart.path }}
    helm:
      releaseName: {{ .Values.chart.releaseName }}
      {{- if $env.chartRevision }}
      valuesObject:
        {{- include "argocd.pinnedValues" (dict "root" . "env" $env) | nindent 8 }}
      {{- else }}
      # Relative to the chart's path (one source: chart and values always from the same commit).
      valueFiles:
        - {{ repeat (len (splitList "/" (trimSuffix "/" .Values.chart.path))) "../" }}{{ $env.valuesFile }}
      {{- with .Values.cluster.values }}
      valuesObject:
        {{- toYaml . | nindent 8 }}
      {{- end }}
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
