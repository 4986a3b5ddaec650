{{- /* Redis auth, shared by the service (a client) and the redis subchart. Every client of Redis has
its own ACL user with its own password; the default user is off, so nothing runs unauthenticated. */ -}}

{{/* The Redis users with a password in the Secret, each under the key "<user>-password". */}}
{{- define "hc.redisUsers" -}}
service exporter backup replication sentinel node admin
{{- end -}}

{{/* The Secret holding the users' passwords. */}}
{{- define "hc.redisSecretName" -}}
{{- .Values.global.redis.auth.existingSecret | default (include "hc.redisName" .) -}}
{{- end -}}

{{/* The Secret key of a user's password: include "hc.redisSecretKey" "service". */}}
{{- define "hc.redisSecretKey" -}}
{{- printf "%s-password" . -}}
{{- end -}}

{{/*
With Redis on: fails rendering without a password source, or (in the umbrella chart, which has a
`redis` key) when the service's key is not the one its Redis user may touch; prints nothing
otherwise.
*/}}
{{- define "hc.redisAuthCheck" -}}
{{- $auth := .Values.global.redis.auth -}}
{{- $umbrella := hasKey .Values "redis" -}}
{{- if or (not $umbrella) .Values.redis.enabled -}}
{{- if not (or $auth.existingSecret $auth.password) -}}
{{- $keys := list -}}
{{- range splitList " " (include "hc.redisUsers" .) -}}
{{- $keys = append $keys (include "hc.redisSecretKey" .) -}}
{{- end -}}
{{- fail (printf "global.redis.auth: Redis always requires auth (one ACL user per client, the default user off), and no password source is set: set global.redis.auth.existingSecret to a Secret with the keys %s, or global.redis.auth.password (development only: each user's password is derived from it)" (join ", " $keys)) -}}
{{- end -}}
{{- if and $umbrella (ne (toString .Values.counter.key) (toString .Values.redis.acl.counterKey)) -}}
{{- fail (printf "counter.key is %q but redis.acl.counterKey is %q: the service's Redis user may touch only redis.acl.counterKey; set both to the same key" (toString .Values.counter.key) (toString .Values.redis.acl.counterKey)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
