{{- /*
Object names. Every chart computes a name from .Release.Name and global values only, through these
helpers, so a name is never written out twice.
*/ -}}

{{/* Base name: global.fullnameOverride, else the release name when it says hit-counter, else <release>-hit-counter. */}}
{{- define "hc.base" -}}
{{- $g := .Values.global | default dict -}}
{{- if $g.fullnameOverride -}}
{{- $g.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains "hit-counter" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-hit-counter" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The service: Deployment, Service and ServiceAccount name. */}}
{{- define "hc.serviceName" -}}{{ include "hc.base" . }}{{- end -}}
{{/* Redis: StatefulSet and client Service name. */}}
{{- define "hc.redisName" -}}{{ include "hc.base" . }}-redis{{- end -}}
{{/* Redis: headless Service the StatefulSet is governed by. */}}
{{- define "hc.redisHeadlessName" -}}{{ include "hc.base" . }}-redis-headless{{- end -}}
{{/* Redis backup: CronJob, its PVC, ConfigMap and ServiceAccount prefix. */}}
{{- define "hc.backupName" -}}{{ include "hc.base" . }}-redis-backup{{- end -}}
{{/* nginx: Deployment and Service name. */}}
{{- define "hc.nginxName" -}}{{ include "hc.base" . }}-nginx{{- end -}}
{{/* nginx: the ClusterIP Service of the exporter's metrics port. */}}
{{- define "hc.nginxMetricsName" -}}{{ include "hc.base" . }}-nginx-metrics{{- end -}}

{{/* Stable DNS name of Redis pod i, or of the pod named .pod: (dict "ctx" $ "i" 0). */}}
{{- define "hc.redisNodeHost" -}}
{{- $g := .ctx.Values.global | default dict -}}
{{- $pod := .pod | default (printf "%s-%d" (include "hc.redisName" .ctx) (int .i)) -}}
{{- printf "%s.%s.%s.svc.%s" $pod (include "hc.redisHeadlessName" .ctx) .ctx.Release.Namespace ($g.clusterDomain | default "cluster.local") -}}
{{- end -}}
{{/* host:port of every Redis node: (dict "ctx" $ "nodes" 3 "port" 26379 "sep" ","). */}}
{{- define "hc.redisNodeAddresses" -}}
{{- $out := list -}}
{{- range $i := until (int .nodes) -}}
{{- $out = append $out (printf "%s:%d" (include "hc.redisNodeHost" (dict "ctx" $.ctx "i" $i)) (int $.port)) -}}
{{- end -}}
{{- join .sep $out -}}
{{- end -}}
