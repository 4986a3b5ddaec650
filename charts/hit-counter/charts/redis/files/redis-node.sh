#!/bin/sh
# One node of the replication architecture: a redis-server and a Redis Sentinel. The same script
# runs in the chart's pods and in the local stack (`npm run stack -- --ha`).
#   redis-node.sh redis [redis-server args]     redis-server as the current primary, or its replica
#   redis-node.sh sentinel [sentinel args]      a Sentinel watching the current primary
#   redis-node.sh primary                       prints the current primary's host:port
#   redis-node.sh handover                      when this node is the primary: holds writes, waits
#                                               for the replicas to catch up, asks Sentinel to
#                                               promote one, then becomes its replica (the pod's
#                                               preStop hook)
# The current primary is what the first answering Sentinel reports; when none knows one (the very
# first start), it is INITIAL_PRIMARY. Environment:
#   SENTINELS        host:port of every Sentinel, space-separated
#   PRIMARY_NAME     the primary's name in Sentinel
#   INITIAL_PRIMARY  host:port of the node that starts as primary when no Sentinel knows one
#   SELF             host:port this redis-server (redis, handover) or Sentinel (sentinel) announces
#   REDIS_CONF       redis.conf (redis)            DATA_DIR      the data directory (redis)
#   SENTINEL_CONF    the rendered sentinel.conf    SENTINEL_DIR  a writable directory (sentinel)
#   REDIS_PASSWORD   password of Redis and of the Sentinels (optional)
set -eu

fail() {
  echo "redis-node.sh: $1" >&2
  exit 2
}

role=${1:-}
[ $# -gt 0 ] && shift
: "${SENTINELS:?set SENTINELS to host:port of every Sentinel}"
: "${PRIMARY_NAME:?set PRIMARY_NAME to the primary name in Sentinel}"
if [ -n "${REDIS_PASSWORD:-}" ]; then
  export REDISCLI_AUTH="$REDIS_PASSWORD"
fi

# Asks each Sentinel in turn (3 s at most each) for the primary; prints host:port, or nothing.
known_primary() {
  for s in $SENTINELS; do
    answer=$(timeout 3 redis-cli -h "${s%:*}" -p "${s##*:}" --no-auth-warning \
      SENTINEL get-master-addr-by-name "$PRIMARY_NAME" 2>/dev/null) || continue
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

# A value for a redis.conf line, double-quoted with \ and " escaped.
quoted() {
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

case $role in
redis)
  : "${SELF:?set SELF to host:port of this redis-server}"
  : "${REDIS_CONF:?set REDIS_CONF to the redis.conf file}"
  : "${DATA_DIR:?set DATA_DIR to the data directory}"
  primary=$(current_primary)
  set -- "$REDIS_CONF" --port "${SELF##*:}" --dir "$DATA_DIR" \
    --replica-announce-ip "${SELF%:*}" --replica-announce-port "${SELF##*:}" "$@"
  if [ "$primary" = "$SELF" ]; then
    echo "redis-node.sh: starting redis-server $SELF as the primary"
  else
    echo "redis-node.sh: starting redis-server $SELF as a replica of $primary"
    set -- "$@" --replicaof "${primary%:*}" "${primary##*:}"
  fi
  if [ -n "${REDIS_PASSWORD:-}" ]; then
    set -- "$@" --requirepass "$REDIS_PASSWORD" --masterauth "$REDIS_PASSWORD"
  fi
  exec redis-server "$@"
  ;;
sentinel)
  : "${SELF:?set SELF to host:port of this Sentinel}"
  : "${SENTINEL_CONF:?set SENTINEL_CONF to the rendered sentinel.conf}"
  : "${SENTINEL_DIR:?set SENTINEL_DIR to a writable directory}"
  primary=$(current_primary)
  # Sentinel rewrites its file with what it learns: a fresh copy each start, readable by it only.
  conf=$SENTINEL_DIR/sentinel.conf
  umask 077
  {
    echo "port ${SELF##*:}"
    echo "sentinel announce-ip ${SELF%:*}"
    echo "sentinel announce-port ${SELF##*:}"
    sed -e "s/%PRIMARY_HOST%/${primary%:*}/" -e "s/%PRIMARY_PORT%/${primary##*:}/" "$SENTINEL_CONF"
    if [ -n "${REDIS_PASSWORD:-}" ]; then
      echo "requirepass $(quoted "$REDIS_PASSWORD")"
      echo "sentinel sentinel-pass $(quoted "$REDIS_PASSWORD")"
      echo "sentinel auth-pass $PRIMARY_NAME $(quoted "$REDIS_PASSWORD")"
    fi
  } >"$conf"
  echo "redis-node.sh: starting Sentinel $SELF watching $primary"
  exec redis-sentinel "$conf" "$@"
  ;;
primary)
  primary=$(known_primary)
  [ -n "$primary" ] || fail "no Sentinel of '$SENTINELS' knows the primary '$PRIMARY_NAME'"
  echo "$primary"
  ;;
handover)
  : "${SELF:?set SELF to host:port of this redis-server}"
  self_cli() { timeout 3 redis-cli -h 127.0.0.1 -p "${SELF##*:}" --no-auth-warning "$@" 2>/dev/null; }
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
    if timeout 3 redis-cli -h "${s%:*}" -p "${s##*:}" --no-auth-warning \
      SENTINEL FAILOVER "$PRIMARY_NAME" 2>/dev/null | grep -q OK; then
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
  fail "usage: redis-node.sh redis|sentinel|primary|handover [args]"
  ;;
esac
