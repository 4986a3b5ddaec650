{{/* The selected environment's facts, as YAML; fails naming the choices when none is selected. */}}
{{- define "argocd.environment" -}}
{{- if not (hasKey .Values.environments .Values.environment) -}}
{{- fail (printf "environment must be one of: %s (--set environment=<name>); got %q" (keys .Values.environments | sortAlpha | join ", ") .Values.environment) -}}
{{- end -}}
{{- get .Values.environments .Values.environment | toYaml -}}
{{- end -}}

{{/* The repository this cluster reads. */}}
{{- define "argocd.repoURL" -}}
{{- .Values.cluster.repoURL | default .Values.repoURL -}}
{{- end -}}

{{/* What was chosen at bootstrap (environment, and the cluster values that are set), as YAML: the
root Application hands it back to this chart, so every sync renders what the bootstrap did. */}}
{{- define "argocd.bootstrapValues" -}}
{{- $cluster := dict -}}
{{- range $key, $value := .Values.cluster -}}
{{- if $value -}}
{{- $_ := set $cluster $key $value -}}
{{- end -}}
{{- end -}}
{{- $values := dict "environment" .Values.environment -}}
{{- if $cluster -}}
{{- $_ := set $values "cluster" $cluster -}}
{{- end -}}
{{- toYaml $values -}}
{{- end -}}

{{/* The sync policy's retry, shared by both Applications. */}}
{{- define "argocd.retry" -}}
retry:
  limit: 5
  backoff:
    duration: 10s
    factor: 2
    maxDuration: 3m
{{- end -}}
