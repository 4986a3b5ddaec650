#!/bin/sh
# Checks a running hit counter from the outside: GETs $HIT_URL twice and passes when both answers
# carry the sentence "Holla! we have hit N times" and the second N is larger than the first.
# Runs as the chart's `helm test` Pod (busybox wget) and anywhere else with curl or wget:
#   HIT_URL=http://127.0.0.1:8080/ sh hit-check.sh
set -eu

: "${HIT_URL:?set HIT_URL to the counter URL, e.g. http://127.0.0.1:8080/}"
timeout=${HIT_TIMEOUT:-10}

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time "$timeout" "$HIT_URL"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -T "$timeout" -O - "$HIT_URL"
  else
    echo "hit-check: neither curl nor wget is installed" >&2
    return 2
  fi
}

count() {
  body=$(fetch) || {
    echo "hit-check: GET $HIT_URL failed" >&2
    exit 1
  }
  n=$(printf '%s\n' "$body" | sed -n 's/.*Holla! we have hit \([0-9][0-9]*\) times.*/\1/p' | head -n 1)
  if [ -z "$n" ]; then
    echo "hit-check: the answer of $HIT_URL lacks \"Holla! we have hit N times\": $body" >&2
    exit 1
  fi
  echo "$n"
}

first=$(count)
second=$(count)
if [ "$second" -le "$first" ]; then
  echo "hit-check: the count did not grow ($first, then $second)" >&2
  exit 1
fi
echo "hit-check: ok ($first, then $second)"
