# sentinel.conf of hit-counter (rendered from the chart values). redis-node.sh puts the current
# primary's address in place of %PRIMARY_HOST% and %PRIMARY_PORT%, and adds this Sentinel's port,
# the address it announces and the passwords (from the Secret, never in this file).
daemonize no
logfile ""
loglevel notice
# Addresses are the pods' stable DNS names, not their IPs, which change on every restart.
sentinel resolve-hostnames yes
sentinel announce-hostnames yes

sentinel monitor {{ .Values.sentinel.primaryName }} %PRIMARY_HOST% %PRIMARY_PORT% {{ .Values.sentinel.quorum }}
sentinel down-after-milliseconds {{ .Values.sentinel.primaryName }} {{ .Values.sentinel.downAfterMilliseconds }}
sentinel failover-timeout {{ .Values.sentinel.primaryName }} {{ .Values.sentinel.failoverTimeout }}
sentinel parallel-syncs {{ .Values.sentinel.primaryName }} 1
