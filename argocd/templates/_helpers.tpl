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

{{/* An environment with a chartRevision: its values file (through argocd/environments) with the
cluster's values on top, as the Application's valuesObject. */}}
{{- define "argocd.pinnedValues" -}}
{{- $text := .root.Files.Get .env.valuesFile -}}
{{- if not $text -}}
{{- fail (printf "%s is not in argocd/ (argocd/environments links to the repository's environments/)" .env.valuesFile) -}}
{{- end -}}
{{- $values := fromYaml $text -}}
{{- if hasKey $values "Error" -}}
{{- fail (printf "%s: %s" .env.valuesFile (get $values "Error")) -}}
{{- end -}}
{{- mergeOverwrite $values (deepCopy .root.Values.cluster.values) | toYaml -}}
{{- end -}}

{{/* The user Argo CD's application controller acts as on this cluster. */}}
{{- define "argocd.controllerUser" -}}
{{- .Values.cluster.applicationControllerUser | default (printf "system:serviceaccount:%s:argocd-application-controller" .Values.argocdNamespace) -}}
{{- end -}}
