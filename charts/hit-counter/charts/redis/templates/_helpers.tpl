{{/* Helpers of the redis subchart (shared names are in _names.tpl). */}}

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

{{/* A probe command: redis-cli PING must answer PONG (or LOADING when $loading). */}}
{{- define "redis.pingProbe" -}}
exec:
  command:
    - sh
    - -c
    - |
      out=$(redis-cli -h 127.0.0.1 -p {{ .ctx.Values.global.redis.port }} --no-auth-warning ping 2>&1)
      {{- if .loading }}
      case "$out" in PONG|LOADING*) exit 0 ;; esac
      {{- else }}
      [ "$out" = PONG ] && exit 0
      {{- end }}
      echo "$out"; exit 1
{{- end -}}
