{{- /* The recommended app.kubernetes.io labels; .ctx is the calling chart's context, so .Chart is that chart. */ -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "redis"). */}}
{{- define "hc.selectorLabels" -}}
app.kubernetes.io/name: hit-counter
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All recommended labels of one component: (dict "ctx" $ "component" "redis"). */}}
{{- define "hc.labels" -}}
{{ include "hc.selectorLabels" . }}
app.kubernetes.io/part-of: hit-counter
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 }}
{{- end -}}

{{/* Labels of a pod template: the recommended ones without helm.sh/chart, so that a chart release
     that changes nothing in a pod does not roll it. */}}
{{- define "hc.podLabels" -}}
{{ include "hc.selectorLabels" . }}
app.kubernetes.io/part-of: hit-counter
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}
