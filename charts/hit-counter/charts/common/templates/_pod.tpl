{{- /* Pieces of every pod: pinned images and the restricted container securityContext. */ -}}

{{/* An image reference from {repository, tag}; refuses "latest" and empty tags. */}}
{{- define "hc.image" -}}
{{- if or (not .tag) (eq (toString .tag) "latest") -}}
{{- fail (printf "image %s needs a pinned tag (not empty, not latest)" .repository) -}}
{{- end -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}

{{/* The restricted Pod Security container securityContext. */}}
{{- define "hc.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The checksum annotation that rolls a workload when its ConfigMap's data changes: the data alone,
so a new chart version (the helm.sh/chart label) rolls no pod.
Call: include "hc.dataChecksum" (dict "ctx" . "template" "/configmap.yaml")
*/}}
{{- define "hc.dataChecksum" -}}
{{- $rendered := include (print .ctx.Template.BasePath .template) .ctx | fromYaml -}}
{{- $rendered.data | toYaml | sha256sum -}}
{{- end -}}
