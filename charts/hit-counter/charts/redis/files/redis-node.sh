#!/bin/sh
# A Redis node of hit-counter: redis-server, standalone or in the replication architecture (with a
# Redis Sentinel beside it), and the commands around it. The same script runs in the chart's pods,
# in the backup job and in the local stack (`npm run stack`).
#   redis-node.sh redis [redis-server args]     redis-server: standalone, or (SENTINELS set) as the
#                                               current primary or its replica
#   redis-node.sh sentinel [sentinel args]      a Sentinel watching the current primary
#   redis-node.sh primary                       prints the current primary's host:port
#   redis-node.sh handover                      when this node is the primary: holds writes, waits
#                                               for the replicas to catch up, asks Sentinel to
#                                               promote one, then becomes its replica (the pod's
#                                               preStop hook)
#   redis-node.sh alive PORT                    liveness: the server on PORT answers PING at all
#                                               (PONG, or busy LOADING its data or running a script)
#   redis-node.sh ready PORT                    readiness of redis-server: its data is loaded, its
#                                               last AOF write succeeded and, as a replica, its link
#                                               to the primary is up and synced
#   redis-node.sh sentinel-ready PORT           readiness of a Sentinel: it names the primary
#   redis-node.sh exporter-auth FILE ADDRESS    writes redis_exporter's password file: the exporter
#                                               user's password for ADDRESS only
#   redis-node.sh cli [redis-cli args]          redis-cli on this node (REDIS_PORT) as the admin
#                                               user, for operators (e.g. cli -p 26379 for Sentinel)
# Auth: every client of Redis logs in as its own ACL user (the default user is off). AUTH_DIR holds
# each user's password in the file <user>-password (the chart's Secret, mounted); `redis` and
# `sentinel` put only the passwords' SHA-256 into the users they load, and this script's own
# redis-cli calls log in as the node user. Without AUTH_DIR (the backup job) they log in as
# REDIS_USER with the password in REDISCLI_AUTH.
# The current primary is what the first answering Sentinel reports; when none knows one (the very
# first start), it is INITIAL_PRIMARY. Environment:
#   SENTINELS        host:port of every Sentinel, space-separated (replication only)
#   PRIMARY_NAME     the primary's name in Sentinel
#   INITIAL_PRIMARY  host:port of the node that starts as primary when no Sentinel knows one
#   SELF             host:port this redis-server (redis, handover) or Sentinel (sentinel) announces
#   REDIS_CONF       redis.conf (redis)            DATA_DIR      the data directory (redis)
#   USERS_ACL        the rendered ACL users (redis)
#   RUN_DIR          a private directory for the loaded ACL file (redis)
#   SENTINEL_CONF    the rendered sentinel.conf    SENTINEL_DIR  a writable directory (sentinel)
#   AUTH_DIR         the users' password files     REDIS_PORT    this node's port (cli; default 6379)
set -eu

fail() {
  echo "redis-node.sh: $1" >&2
  exit 2
}

role=${1:-}
[ $# -gt 0 ] && shift

# The file holding user $1's password: one line of printable ASCII without a line break, as every
# consumer (an environment variable, a config line, redis_exporter's JSON) reads it the same way.
password_file() {
  f=${AUTH_DIR:?set AUTH_DIR to the directory of the Redis users\' password files}/$1-password
  [ -s "$f" ] || fail "no password for the Redis user '$1': $f is missing or empty (the Secret needs the key $1-password)"
  if [ "$(wc -l <"$f" | tr -d ' ')" != 0 ] || LC_ALL=C grep -q '[^ -~]' "$f"; then
    fail "the password of the Redis user '$1' ($f) must be printable ASCII without a line break"
  fi
  echo "$f"
}

# This script's redis-cli calls log in as user $1 (its password in REDISCLI_AUTH).
login() {
  CLI_USER=$1
  f=$(password_file "$1")
  REDISCLI_AUTH=$(cat "$f")
  export REDISCLI_AUTH
}
if [ "$role" = exporter-auth ]; then
  CLI_USER= # runs no redis-cli, and sees the exporter's password only
elif [ -n "${AUTH_DIR:-}" ]; then
  login node
else
  CLI_USER=${REDIS_USER:-}
fi

# redis-cli against $1:$2 as CLI_USER, 3 s at most (timeout: 0 = none, for the probes whose
# timeout is the kubelet's).
cli_at() {
  host=$1 port=$2 limit=${CLI_TIMEOUT:-3}
  shift 2
  [ -z "$CLI_USER" ] || set -- --user "$CLI_USER" "$@"
  if [ "$limit" = 0 ]; then
    redis-cli -h "$host" -p "$port" --no-auth-warning "$@"
  else
    timeout "$limit" redis-cli -h "$host" -p "$port" --no-auth-warning "$@"
  fi
}

# The ACL users of the rendered file $1 (its lines "user <name> <rules>"), each with the SHA-256 of
# its password (#<hex>) from AUTH_DIR; the default user as written (off).
users_with_hashes() {
  grep '^user ' "$1" | while read -r _ name rules; do
    if [ "$name" = default ]; then
      echo "user $name $rules"
    else
      f=$(password_file "$name")
      echo "user $name #$(sha256sum <"$f" | cut -c1-64) $rules"
    fi
  done
}

# Asks each Sentinel in turn (3 s at most each) for the primary; prints host:port, or nothing.
known_primary() {
  : "${SENTINELS:?set SENTINELS to host:port of every Sentinel}"
  : "${PRIMARY_NAME:?set PRIMARY_NAME to the primary name in Sentinel}"
  for s in $SENTINELS; do
    answer=$(cli_at "${s%:*}" "${s##*:}" SENTINEL get-master-addr-by-name "$PRIMARY_NAME" 2>/dev/null) ||
      continue
    host=$(echo "$answer" | sed -n 1p)
    port=$(echo "$answer" | sed -n 2p)
    case $port in '' | *[!0-9]*) continue ;; esac
    echo "$host:$port"
    return 0
  done
  return 0
}

# The primary a starting node or Sentinel follows: the one the Sentinels name, else the first.
current_primary() {
  : "${INITIAL_PRIMARY:?set INITIAL_PRIMARY to host:port of the first primary}"
  primary=$(known_primary)
  echo "${primary:-$INITIAL_PRIMARY}"
}

# A value for a config line, double-quoted with \ and " escaped.
quoted() {
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# A probe's answer $2 did not please it: prints why ($1) and fails.
not_ready() {
  echo "$1: $2" | tr '\r\n' '  '
  echo
  exit 1
}

case $role in
redis)
  : "${REDIS_CONF:?set REDIS_CONF to the redis.conf file}"
  : "${DATA_DIR:?set DATA_DIR to the data directory}"
  : "${USERS_ACL:?set USERS_ACL to the rendered ACL users}"
  : "${RUN_DIR:?set RUN_DIR to a private directory for the ACL file}"
  # The users Redis loads, with their password hashes: readable by this user only.
  acl=$RUN_DIR/users.acl
  (
    umask 077
    users_with_hashes "$USERS_ACL" >"$acl.new"
  )
  mv "$acl.new" "$acl"
  if [ -z "${SENTINELS:-}" ]; then
    echo "redis-node.sh: starting redis-server (standalone)"
    exec redis-server "$REDIS_CONF" --dir "$DATA_DIR" --aclfile "$acl" "$@"
  fi
  : "${SELF:?set SELF to host:port of this redis-server}"
  primary=$(current_primary)
  set -- "$REDIS_CONF" --port "${SELF##*:}" --dir "$DATA_DIR" --aclfile "$acl" \
    --replica-announce-ip "${SELF%:*}" --replica-announce-port "${SELF##*:}" "$@"
  if [ "$primary" = "$SELF" ]; then
    echo "redis-node.sh: starting redis-server $SELF as the primary"
  else
    echo "redis-node.sh: starting redis-server $SELF as a replica of $primary"
    set -- "$@" --replicaof "${primary%:*}" "${primary##*:}"
  fi
  # Every node may become a replica: it logs in to its primary as the replication user.
  f=$(password_file replication)
  exec redis-server "$@" --masteruser replication --masterauth "$(cat "$f")"
  ;;
sentinel)
  : "${SELF:?set SELF to host:port of this Sentinel}"
  : "${SENTINEL_CONF:?set SENTINEL_CONF to the rendered sentinel.conf}"
  : "${SENTINEL_DIR:?set SENTINEL_DIR to a writable directory}"
  primary=$(current_primary)
  f=$(password_file sentinel)
  password=$(cat "$f")
  # Sentinel rewrites its file with what it learns: a fresh copy each start, readable by it only.
  conf=$SENTINEL_DIR/sentinel.conf
  umask 077
  {
    echo "port ${SELF##*:}"
    echo "sentinel announce-ip ${SELF%:*}"
    echo "sentinel announce-port ${SELF##*:}"
    sed -e "s/%PRIMARY_HOST%/${primary%:*}/" -e "s/%PRIMARY_PORT%/${primary##*:}/" -e '/^user /d' \
      "$SENTINEL_CONF"
    users_with_hashes "$SENTINEL_CONF"
    echo "sentinel sentinel-pass $(quoted "$password")"
    echo "sentinel auth-pass $PRIMARY_NAME $(quoted "$password")"
  } >"$conf"
  echo "redis-node.sh: starting Sentinel $SELF watching $primary"
  exec redis-sentinel "$conf" "$@"
  ;;
primary)
  primary=$(known_primary)
  [ -n "$primary" ] || fail "no Sentinel of '$SENTINELS' knows the primary '$PRIMARY_NAME'"
  echo "$primary"
  ;;
alive)
  port=${1:?usage: redis-node.sh alive PORT}
  out=$(CLI_TIMEOUT=0 cli_at 127.0.0.1 "$port" PING 2>&1) || true
  case $out in PONG | LOADING* | BUSY*) exit 0 ;; esac
  not_ready "no answer to PING" "$out"
  ;;
ready)
  port=${1:?usage: redis-node.sh ready PORT}
  info=$(CLI_TIMEOUT=0 cli_at 127.0.0.1 "$port" INFO persistence replication 2>&1 | tr -d '\r') || true
  field() { echo "$info" | sed -n "s/^$1://p"; }
  [ "$(field loading)" = 0 ] || not_ready "not loaded" "$info"
  [ "$(field aof_enabled)" != 1 ] || [ "$(field aof_last_write_status)" = ok ] ||
    not_ready "the last AOF write failed" "aof_last_write_status:$(field aof_last_write_status)"
  if [ "$(field role)" = slave ]; then
    link=$(field master_link_status) syncing=$(field master_sync_in_progress)
    if [ "$link" != up ] || [ "$syncing" != 0 ]; then
      not_ready "a replica not in sync with its primary" \
        "master_link_status:$link master_sync_in_progress:$syncing"
    fi
  fi
  ;;
sentinel-ready)
  port=${1:?usage: redis-node.sh sentinel-ready PORT}
  : "${PRIMARY_NAME:?set PRIMARY_NAME to the primary name in Sentinel}"
  out=$(CLI_TIMEOUT=0 cli_at 127.0.0.1 "$port" SENTINEL get-master-addr-by-name "$PRIMARY_NAME" 2>&1) || true
  case $(echo "$out" | sed -n 2p) in '' | *[!0-9]*) not_ready "no primary named" "$out" ;; esac
  ;;
exporter-auth)
  file=${1:?usage: redis-node.sh exporter-auth FILE ADDRESS}
  address=${2:?usage: redis-node.sh exporter-auth FILE ADDRESS}
  # redis_exporter's password file maps a Redis address to its password: the exporter sends the
  # password to that address only, never to a target its /scrape endpoint is pointed at.
  f=$(password_file exporter)
  password=$(sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' "$f")
  (
    umask 077
    printf '{"%s": "%s"}\n' "$address" "$password" >"$file"
  )
  ;;
cli)
  login admin
  exec redis-cli -h 127.0.0.1 -p "${REDIS_PORT:-6379}" --user admin --no-auth-warning "$@"
  ;;
handover)
  : "${SELF:?set SELF to host:port of this redis-server}"
  : "${SENTINELS:?set SENTINELS to host:port of every Sentinel}"
  : "${PRIMARY_NAME:?set PRIMARY_NAME to the primary name in Sentinel}"
  self_cli() { cli_at 127.0.0.1 "${SELF##*:}" "$@" 2>/dev/null; }
  [ "$(self_cli ROLE | head -n 1)" = master ] || exit 0
  # Hold writes first: a write this node accepted after a replica's promotion could be acknowledged
  # by another replica that then resynchronises from the new primary and drops it. Then wait until
  # every replica has this node's whole stream, so whichever Sentinel promotes holds every number.
  self_cli CLIENT PAUSE 30000 WRITE | grep -q OK || fail "CLIENT PAUSE on $SELF failed"
  unpause() { self_cli CLIENT UNPAUSE >/dev/null || true; }
  # One more poll of at most 40 (20 s); past that, writes resume and the handover stops with $1.
  tries=0
  next_try() {
    tries=$((tries + 1))
    [ $tries -lt 40 ] || {
      unpause
      fail "$1"
    }
    sleep 0.5
  }
  while :; do
    info=$(self_cli INFO replication | tr -d '\r')
    offset=$(echo "$info" | sed -n 's/^master_repl_offset://p')
    behind=$(echo "$info" | grep '^slave[0-9]*:' | grep -cv "offset=$offset," || true)
    online=$(echo "$info" | grep -c '^slave[0-9]*:.*state=online' || true)
    [ "$online" -gt 0 ] && [ "$behind" -eq 0 ] && break
    next_try "the replicas of $SELF did not catch up within 20 s; nothing was handed over"
  done
  asked=
  for s in $SENTINELS; do
    if cli_at "${s%:*}" "${s##*:}" SENTINEL FAILOVER "$PRIMARY_NAME" 2>/dev/null | grep -q OK; then
      asked=$s
      break
    fi
  done
  [ -n "$asked" ] || {
    unpause
    fail "no Sentinel of '$SENTINELS' accepted SENTINEL FAILOVER $PRIMARY_NAME"
  }
  # Wait until the Sentinels name the promoted replica (20 s at most), then make this node its
  # replica at once, as Sentinel would some seconds later.
  tries=0
  while :; do
    primary=$(known_primary)
    [ -n "$primary" ] && [ "$primary" != "$SELF" ] && break
    next_try "no replica was promoted 20 s after SENTINEL FAILOVER"
  done
  self_cli REPLICAOF "${primary%:*}" "${primary##*:}" | grep -q OK || {
    unpause
    fail "REPLICAOF $primary on $SELF failed"
  }
  # Held writes now meet a replica and are refused (READONLY): none is counted here.
  unpause
  echo "redis-node.sh: $SELF handed over to $primary (SENTINEL FAILOVER via $asked)"
  ;;
*)
  fail "usage: redis-node.sh redis|sentinel|primary|handover|alive|ready|sentinel-ready|exporter-auth|cli [args]"
  ;;
esac
