{{/* Helpers of the redis subchart (the shared hc.* helpers are in the common library chart). */}}

{{/* A probe running `redis-node.sh <.role> <.port>` in a container that mounts the scripts and the Secret. */}}
{{- define "redis.probe" -}}
exec:
  command: ["sh", "/etc/redis/redis-node.sh", {{ .role | quote }}, {{ .port | quote }}]
{{- end -}}

{{/* The environment redis-node.sh needs to log in: the users' password files (the Secret, mounted). */}}
{{- define "redis.authEnv" -}}
- name: AUTH_DIR
  value: /etc/redis-auth
{{- end -}}

{{/* The Secret's mount (every user's password, one file each), read-only. */}}
{{- define "redis.authMount" -}}
- name: auth
  mountPath: /etc/redis-auth
  readOnly: true
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
