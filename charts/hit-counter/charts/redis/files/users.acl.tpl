# ACL users of the Redis nodes (rendered from the chart values). No password is in this file:
# redis-node.sh adds each user's password hash (#<sha256>) from the Secret (key <user>-password) at
# start and loads the result with --aclfile. Each client has its own user with the least it needs;
# the default user is off, so nothing runs unauthenticated.
user default off
# The service: INCRBY and GET on its one key, WAIT after each batch (replication), PING; INFO for
# its client's ready check (waits out LOADING and, behind Sentinel, checks the node is the primary);
# SELECT for a database other than 0.
user service on resetchannels ~{{ .Values.acl.counterKey }} -@all +incrby +get +wait +ping +info +select
# redis_exporter: the reads of its default metrics, no key. No CONFIG: CONFIG GET would also show
# masterauth, the replication user's password.
user exporter on resetchannels -@all +ping +info +client|setname +latency|latest +latency|histogram +slowlog|len +slowlog|get
# The backup job's `redis-cli --rdb`: a replica's handshake and SYNC.
user backup on resetchannels -@all +replconf +sync
{{- if eq .Values.architecture "replication" }}
# The replicas (masteruser): the replication handshake.
user replication on resetchannels -@all +ping +replconf +psync
# Sentinel (sentinel auth-user): the commands Redis' Sentinel documentation lists, on its channel.
user sentinel on resetchannels &__sentinel__:hello -@all +ping +info +role +multi +exec +slaveof +config|rewrite +client|setname +client|kill +script|kill +subscribe +publish
{{- end }}
# The node's own scripts: the probes and the preStop handover.
user node on resetchannels -@all +ping +info +role +client|pause +client|unpause +replicaof
# Operators only (redis-node.sh cli: the restore procedure, ACL LOG); no component logs in as admin.
user admin on ~* &* +@all
