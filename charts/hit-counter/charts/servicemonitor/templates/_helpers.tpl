{{/* Helpers of the servicemonitor subchart (the shared hc.* helpers are in the common library chart). */}}

{{/* Labels of every object here: the recommended ones plus the Prometheus selector labels. */}}
{{- define "servicemonitor.labels" -}}
{{ include "hc.labels" (dict "ctx" . "component" "monitoring") }}
{{- with .Values.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* One ServiceMonitor: (dict "ctx" $ "name" "..." "component" "..." "port" "..."). */}}
{{- define "servicemonitor.serviceMonitor" -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ .name }}
  labels:
    {{- include "servicemonitor.labels" .ctx | nindent 4 }}
spec:
  namespaceSelector:
    matchNames: [{{ .ctx.Release.Namespace }}]
  selector:
    matchLabels:
      {{- include "hc.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
  endpoints:
    - port: {{ .port }}
      path: /metrics
      interval: {{ .ctx.Values.interval }}
      scrapeTimeout: {{ .ctx.Values.scrapeTimeout }}
{{- end -}}
