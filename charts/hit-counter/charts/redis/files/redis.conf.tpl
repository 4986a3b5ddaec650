# redis.conf of hit-counter (rendered from the chart values).
# Not set here, passed on the command line instead (by redis-node.sh) so the same file runs anywhere:
#   --dir <data dir>, --aclfile <the ACL users with their password hashes, from the Secret>.
# Locally: redis-server redis.conf --port <port> --dir <dir> [--bind 127.0.0.1]
port {{ .Values.global.redis.port }}
# Every interface: clients reach the pod's address. Auth is always required (the ACL users, the
# default user off); protected mode also refuses remote clients should this file run without them.
bind * -::*
protected-mode yes
daemonize no
logfile ""
loglevel notice

# Durability: every write goes to the append-only file, fsynced per appendfsync.
appendonly yes
appendfilename "appendonly.aof"
appenddirname "appendonlydir"
appendfsync {{ .Values.config.appendfsync }}
aof-use-rdb-preamble yes
save "{{ .Values.config.save }}"

# Never evict: a counter must not silently lose its key; writes fail when memory is full.
maxmemory {{ .Values.config.maxmemory }}
maxmemory-policy noeviction

# Dangerous commands disabled.
{{- range .Values.config.disabledCommands }}
rename-command {{ . }} ""
{{- end }}
{{- with .Values.config.extra }}

# Extra settings from the chart values.
{{ . }}
{{- end }}
