{{- $_ := include "argocd.environment" . -}}
# The root: this chart, rendered from git with what the bootstrap chose, so Argo CD keeps the
# AppProjects and Applications above, and this Application itself, equal to the repository. No
# finalizer: deleting it leaves the environment running.
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ .Values.name }}-root
  namespace: {{ .Values.argocdNamespace }}
spec:
  project: {{ .Values.name }}-root
  source:
    repoURL: {{ include "argocd.repoURL" . | quote }}
    targetRevision: {{ .Values.targetRevision | quote }}
    path: {{ .Values.path }}
    helm:
      valuesObject:
        {{- include "argocd.bootstrapValues" . | nindent 8 }}
  destination:
    server: https://kubernetes.default.svc
    namespace: {{ .Values.argocdNamespace }}
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    {{- include "argocd.retry" . | nindent 4 }}
  revisionHistoryLimit: 10
