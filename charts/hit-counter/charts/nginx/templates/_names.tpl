{{- /*
Shared names and labels. The umbrella chart and each subchart carry this same file (a test keeps
the copies identical), so every chart computes a name the same way, from .Release.Name and
global values only, and a name is never written out twice.
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

{{/* The Secret holding the Redis password, and its key. */}}
{{- define "hc.redisSecretName" -}}
{{- $auth := .Values.global.redis.auth -}}
{{- $auth.existingSecret | default (include "hc.redisName" .) -}}
{{- end -}}
{{- define "hc.redisSecretKey" -}}
{{- .Values.global.redis.auth.existingSecretKey | default "redis-password" -}}
{{- end -}}

{{/* Fails rendering when auth is on and no password source is given; prints nothing otherwise. */}}
{{- define "hc.redisAuthCheck" -}}
{{- $auth := .Values.global.redis.auth -}}
{{- if and $auth.enabled (not $auth.existingSecret) (not $auth.password) -}}
{{- fail "global.redis.auth.enabled is true but no password source is set: set global.redis.auth.existingSecret (a Secret with the key global.redis.auth.existingSecretKey), or global.redis.auth.password (development only), or set global.redis.auth.enabled=false" -}}
{{- end -}}
{{- end -}}

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

{{/* DNS egress (kube-dns / CoreDNS on port 53) for NetworkPolicies. */}}
{{- define "hc.dnsEgress" -}}
- to:
    - namespaceSelector: {}
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end -}}

{{/* Who may scrape metrics: the namespace and pod selectors from global.networkPolicy.metrics. */}}
{{- define "hc.metricsPeer" -}}
{{- $m := .Values.global.networkPolicy.metrics -}}
- namespaceSelector:
    {{- toYaml $m.namespaceSelector | nindent 4 }}
  podSelector:
    {{- toYaml $m.podSelector | nindent 4 }}
{{- end -}}
