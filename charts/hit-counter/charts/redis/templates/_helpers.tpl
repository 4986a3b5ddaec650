{{/* Helpers of the redis subchart (the shared hc.* helpers are in the common library chart). */}}

{{/* REDISCLI_AUTH from the Secret, for containers that run redis-cli. */}}
{{- define "redis.cliAuthEnv" -}}
{{- if .Values.global.redis.auth.enabled }}
- name: REDISCLI_AUTH
  valueFrom:
    secretKeyRef:
      name: {{ include "hc.redisSecretName" . }}
      key: {{ include "hc.redisSecretKey" . }}
{{- end }}
{{- end -}}

{{/* A probe command: redis-cli PING on .port (default: Redis's) must answer PONG (or LOADING when .loading). */}}
{{- define "redis.pingProbe" -}}
exec:
  command:
    - sh
    - -c
    - |
      out=$(redis-cli -h 127.0.0.1 -p {{ .port | default .ctx.Values.global.redis.port }} --no-auth-warning ping 2>&1)
      {{- if .loading }}
      case "$out" in PONG|LOADING*) exit 0 ;; esac
      {{- else }}
      [ "$out" = PONG ] && exit 0
      {{- end }}
      echo "$out"; exit 1
{{- end -}}

{{/* redis-node.sh's environment for a container announcing .port (the replication architecture). */}}
{{- define "redis.nodeEnv" -}}
{{- $v := .ctx.Values -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: SELF
  value: {{ printf "%s:%d" (include "hc.redisNodeHost" (dict "ctx" .ctx "pod" "$(POD_NAME)")) (int .port) | quote }}
- name: SENTINELS
  value: {{ include "hc.redisNodeAddresses" (dict "ctx" .ctx "nodes" $v.replication.nodes "port" $v.sentinel.port "sep" " ") | quote }}
- name: PRIMARY_NAME
  value: {{ $v.sentinel.primaryName | quote }}
- name: INITIAL_PRIMARY
  value: {{ printf "%s:%d" (include "hc.redisNodeHost" (dict "ctx" .ctx "i" 0)) (int $v.global.redis.port) | quote }}
{{- end -}}
