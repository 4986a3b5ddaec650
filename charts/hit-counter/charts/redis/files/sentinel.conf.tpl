# sentinel.conf of hit-counter (rendered from the chart values). redis-node.sh puts the current
# primary's address in place of %PRIMARY_HOST% and %PRIMARY_PORT%, and adds this Sentinel's port,
# the address it announces, each user's password hash (#<sha256>) and the Sentinel user's password
# (from the Secret, never in this file).
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
# Sentinels log in as the sentinel user, to the Redis nodes and to each other.
sentinel auth-user {{ .Values.sentinel.primaryName }} sentinel
sentinel sentinel-user sentinel

# Who may ask this Sentinel what: anyone else could redirect the service to another primary
# (SENTINEL SET/MONITOR/REMOVE) or force failovers. The default user is off.
user default off
# The service's client: the primary's address, the other Sentinels, and +switch-master events.
user service on resetchannels &+switch-master -@all +ping +sentinel|get-master-addr-by-name +sentinel|sentinels +subscribe
# The backup job: the primary's address.
user backup on resetchannels -@all +sentinel|get-master-addr-by-name
# The other Sentinels: hello messages, and the vote on a primary being down.
user sentinel on resetchannels &__sentinel__:hello -@all +ping +publish +client|setname +sentinel|is-master-down-by-addr
# The node's own scripts: the probes, the start (the primary's address) and the preStop handover.
user node on resetchannels -@all +ping +sentinel|get-master-addr-by-name +sentinel|failover
# Operators only (redis-node.sh cli -p <sentinel port>).
user admin on ~* &* +@all
