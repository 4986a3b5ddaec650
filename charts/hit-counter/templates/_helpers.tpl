{{/* Helpers of the umbrella chart (the shared hc.* helpers are in the common library chart). */}}

{{/* The service image; the tag defaults to the chart's appVersion. */}}
{{- define "hit-counter.image" -}}
{{- include "hc.image" (dict "repository" .Values.image.repository "tag" (.Values.image.tag | default .Chart.AppVersion)) -}}
{{- end -}}

{{/* The service's ServiceAccount name. */}}
{{- define "hit-counter.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "hc.serviceName" .) -}}
{{- end -}}

{{/* REDIS_URL of the redis subchart's client Service. */}}
{{- define "hit-counter.redisUrl" -}}
{{- printf "redis://%s:%d/%d" (include "hc.redisName" .) (int .Values.global.redis.port) (int .Values.global.redis.db) -}}
{{- end -}}

{{/* URL the helm test GETs. */}}
{{- define "hit-counter.testUrl" -}}
{{- if .Values.helmTest.url -}}
{{- .Values.helmTest.url -}}
{{- else if .Values.nginx.enabled -}}
{{- printf "http://%s:%d/" (include "hc.nginxName" .) (int (.Values.nginx.service.port | default 80)) -}}
{{- else -}}
{{- printf "http://%s:%d/" (include "hc.serviceName" .) (int .Values.global.service.port) -}}
{{- end -}}
{{- end -}}
