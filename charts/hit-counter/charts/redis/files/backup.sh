#!/bin/sh
# Takes an RDB snapshot of a live Redis with `redis-cli --rdb` (a replica-style SYNC: the backup
# user may run only that handshake), stores it as $BACKUP_DIR/dump-<UTC time>.rdb and keeps the
# newest $BACKUP_KEEP. Runs in the chart's backup CronJob and anywhere with sh and redis-cli:
#   REDIS_HOST=127.0.0.1 REDIS_PORT=6379 REDIS_USER=backup REDISCLI_AUTH=<its password> \
#     BACKUP_DIR=./backups BACKUP_KEEP=8 sh backup.sh
# (REDIS_USER unset: redis-cli logs in as Redis' default user.)
# Prints the path of the new backup on success.
set -eu

fail() {
  echo "backup.sh: $1" >&2
  exit "${2:-1}"
}

: "${REDIS_HOST:?set REDIS_HOST to the Redis host}"
REDIS_PORT=${REDIS_PORT:-6379}
: "${BACKUP_DIR:?set BACKUP_DIR to the folder backups are written to}"
BACKUP_KEEP=${BACKUP_KEEP:-8}
case $BACKUP_KEEP in
'' | *[!0-9]* | 0) fail "BACKUP_KEEP must be a whole number of at least 1, got '$BACKUP_KEEP'" 2 ;;
esac
case $REDIS_PORT in
'' | *[!0-9]*) fail "REDIS_PORT must be a port number, got '$REDIS_PORT'" 2 ;;
esac
if [ ! -d "$BACKUP_DIR" ] || [ ! -w "$BACKUP_DIR" ]; then
  fail "BACKUP_DIR '$BACKUP_DIR' is not a writable folder" 2
fi
command -v redis-cli >/dev/null 2>&1 || fail "redis-cli is not installed" 2

stamp=$(date -u +%Y%m%dT%H%M%SZ)
partial="$BACKUP_DIR/.dump-$stamp.rdb.partial"
final="$BACKUP_DIR/dump-$stamp.rdb"
log="$BACKUP_DIR/.backup.log"

set -- -h "$REDIS_HOST" -p "$REDIS_PORT" --no-auth-warning
if [ -n "${REDIS_USER:-}" ]; then set -- "$@" --user "$REDIS_USER"; fi
if ! redis-cli "$@" --rdb "$partial" >"$log" 2>&1; then
  why=$(tr '\n' ' ' <"$log")
  rm -f "$partial" "$log"
  fail "redis-cli --rdb from $REDIS_HOST:$REDIS_PORT failed: $why"
fi
# An RDB file starts with the magic "REDIS".
if [ "$(head -c 5 "$partial")" != REDIS ]; then
  rm -f "$partial"
  fail "the snapshot from $REDIS_HOST:$REDIS_PORT is not an RDB file"
fi
mv "$partial" "$final"
rm -f "$log"

# Retention: the glob lists backups oldest first (the names sort by time); delete all but the
# newest $BACKUP_KEEP.
count=0
for f in "$BACKUP_DIR"/dump-[0-9]*T[0-9]*Z.rdb; do
  [ -e "$f" ] && count=$((count + 1))
done
excess=$((count - BACKUP_KEEP))
for f in "$BACKUP_DIR"/dump-[0-9]*T[0-9]*Z.rdb; do
  [ "$excess" -gt 0 ] || break
  rm -f "$f"
  excess=$((excess - 1))
done

echo "$final"
