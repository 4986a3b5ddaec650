{{- /* The Redis password's wiring, shared by the service (the client) and the redis subchart. */ -}}

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
