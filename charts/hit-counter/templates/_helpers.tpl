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

{{/*
NODE_OPTIONS of the service: V8's young generation semi-spaces (heap.semiSpaceMiB), and its old
space as heap.oldSpacePercent of resources.limits.memory, so V8 collects harder near the limit and,
at worst, stops with a heap error of its own before the kernel kills the container.
*/}}
{{- define "hit-counter.nodeOptions" -}}
{{- $raw := .Values.resources.limits.memory -}}
{{- /* a plain number in a values file arrives as a float64: written back as its digits */ -}}
{{- $limit := toString $raw -}}
{{- if kindIs "float64" $raw }}{{ $limit = printf "%.0f" $raw }}{{ end -}}
{{- $n := regexFind "^[0-9]+" $limit -}}
{{- $unit := trimPrefix $n $limit -}}
{{- $perUnit := dict "" 1 "k" 1000 "Ki" 1024 "M" 1000000 "Mi" 1048576 "G" 1000000000 "Gi" 1073741824 -}}
{{- if or (not $n) (not (hasKey $perUnit $unit)) -}}
{{- fail (printf "resources.limits.memory %q: write a whole number of bytes, k, Ki, M, Mi, G or Gi (heap.oldSpacePercent sizes the heap from it)" $limit) -}}
{{- end -}}
{{- $mib := div (mul (atoi $n) (get $perUnit $unit)) 1048576 -}}
{{- $old := div (mul $mib (int .Values.heap.oldSpacePercent)) 100 -}}
{{- if lt $old 16 -}}
{{- fail (printf "resources.limits.memory %q with heap.oldSpacePercent %d leaves %d MiB of old space; give the service at least 16" $limit (int .Values.heap.oldSpacePercent) $old) -}}
{{- end -}}
--max-old-space-size={{ $old }} --max-semi-space-size={{ int .Values.heap.semiSpaceMiB }}
{{- end }}
