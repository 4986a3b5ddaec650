{{- $_ := include "argocd.environment" . -}}
# The AppProject of the root Application: this repository, Argo CD's own namespace on this
# cluster, and only the kinds this chart renders.
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: {{ .Values.name }}-root
  namespace: {{ .Values.argocdNamespace }}
spec:
  description: hit-counter's Argo CD objects, from this repository only
  sourceRepos:
    - {{ include "argocd.repoURL" . | quote }}
  destinations:
    - server: https://kubernetes.default.svc
      namespace: {{ .Values.argocdNamespace }}
  # Exactly what this chart renders: cluster-scoped, the namespace guard; namespaced, the rest.
  clusterResourceWhitelist:
    - group: admissionregistration.k8s.io
      kind: ValidatingAdmissionPolicy
    - group: admissionregistration.k8s.io
      kind: ValidatingAdmissionPolicyBinding
  namespaceResourceWhitelist:
    - group: argoproj.io
      kind: AppProject
    - group: argoproj.io
      kind: Application
