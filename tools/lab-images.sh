#!/usr/bin/env bash
# Builds every image the local cluster's real node runs and writes them into one docker-archive,
# which is then imported into the node's containerd (`ctr -n k8s.io images import`). No container
# registry is reachable from that node, so nothing is pulled: the images are built here with
# podman from what this host already has or can fetch with apt:
#
#   localhost/hit-counter:lab                the service, service/Dockerfile on the local Node base
#   localhost/redis:<v>                      Debian's redis-server and redis-tools (Redis, backups)
#   localhost/redis-exporter:<v>             Debian's prometheus-redis-exporter
#   localhost/nginx:<v>                      Debian's nginx
#   localhost/nginx-exporter:<v>             Debian's prometheus-nginx-exporter
#   localhost/coredns:<v>                    CoreDNS as tools/build-go.sh builds it
#   localhost/local-path-provisioner:<v>     local-path-provisioner as tools/build-go.sh builds it
#   localhost/curl:<v>                       Debian's curl (the helm test)
#   localhost/busybox:<v>                    Debian's static busybox alone (volume helpers)
#   localhost/pause:<v>                      Kubernetes' pause, compiled from its release's source
#
# Every tag is the version of the software inside, read from the built image (its Debian package
# or the program itself). The Debian-based images start from localhost/hit-counter-debian:bookworm
# (`bash tools/base-image.sh debian`) with apt pointed at the host's Debian sources.
#
#   bash tools/lab-images.sh <archive.tar>    (needs root: rootful podman, debootstrap)
#
# Progress goes to stderr; stdout lists the image references in the archive, one a line.
# Cached: an image carries a label with the hash of its inputs (Containerfile, files, base image)
# and is not rebuilt while they stay the same; the service is always built (podman's layer cache
# makes that quick). <archive>.ids records the image IDs the archive holds; with the same IDs the
# archive is not written again. HIT_COUNTER_LAB_REBUILD=1 rebuilds every image but the service
# without podman's cache (to pick up Debian updates, say).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HIT_COUNTER_TOOLS:-$root/.tools}
SUITE=bookworm
STAMP_LABEL=io.hit-counter.lab.inputs # label holding the hash of an image's inputs
SERVICE_REF=localhost/hit-counter:lab

fail() {
  echo "tools/lab-images.sh: $1" >&2
  exit 1
}
log() { echo "$*" >&2; }

[[ $# == 1 && -n ${1:-} ]] || fail "usage: bash tools/lab-images.sh <archive.tar>"
archive=$(realpath -m "$1")
[[ $(id -u) == 0 ]] || fail "rootful podman and debootstrap need root; run it as root (or with sudo)"
for bin in podman gcc go setcap sha256sum realpath; do
  command -v "$bin" >/dev/null || fail "$bin not found: run \`bash tools/install.sh\` (Go: install Go 1.26+)"
done
[[ -f $tools/containers.conf ]] || fail "$tools/containers.conf not found: run \`bash tools/install.sh\`"
export CONTAINERS_CONF=$tools/containers.conf
[[ -x $tools/bin/node ]] || fail "Node not found in $tools/bin: run \`bash tools/install.sh\`"
[[ $(dpkg-query -W -f='${db:Status-Abbrev}' busybox-static 2>/dev/null) == "ii "* && -x /bin/busybox ]] ||
  fail "Debian's busybox-static is not installed: apt-get install busybox-static"
mkdir -p "$(dirname "$archive")" || fail "cannot create the folder of $archive"
cd "$root"

work=$(mktemp -d "${TMPDIR:-/tmp}/lab-images.XXXXXX")
partial=
cleanup() {
  rm -rf "$work"
  if [[ -n $partial ]]; then rm -f "$partial"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

refs=() # what goes into the archive, in build order

# ---- helpers ------------------------------------------------------------------------------

# The upstream part of a Debian version: 5:7.0.15-1~deb12u10 -> 7.0.15.
upstream_version() {
  local v=${1#*:}
  v=${v%-*}
  v=${v%%+dfsg*}
  v=${v%%+ds*}
  echo "${v%%~*}"
}

# Runs a program in a throwaway container of an image (no network, read-only) and prints its
# stdout and stderr; the program replaces the image's entrypoint.
run_in() {
  local image=$1 program=$2
  shift 2
  podman run --rm --network=none --read-only --entrypoint="$program" "$image" "$@" 2>&1
}

# Fails unless `text` contains `want`; says which image (by ID: it is not tagged yet) and check.
checking= # the ID of the image being checked
expect() {
  local ref=$1 what=$2 text=$3 want=$4
  [[ $text == *"$want"* ]] ||
    fail "$ref: $what gave \"$(head -c 200 <<<"$text" | tr '\n' ' ')\", expected \"$want\"; look into the image with: podman run --rm -it --entrypoint sh ${checking:0:12}"
}

# Removes the image a tag named before it moved to a new image, unless another tag still names it
# or it is an ancestor of the new one (podman would take the new image's cached layers with it).
drop_previous() {
  local old=$1 new=${2#sha256:}
  [[ -n $old && $old != "$new" ]] || return 0
  [[ $(podman image inspect --format '{{len .RepoTags}}' "$old" 2>/dev/null) == 0 ]] || return 0
  if podman history --quiet --no-trunc "$new" 2>/dev/null | grep -q "$old"; then return 0; fi
  podman rmi "$old" >/dev/null 2>&1 || true # still in use: kept
}

# A hash of a build context: every path with its type, mode and link target, and every file's
# content. The same files give the same hash wherever the context lives.
context_hash() {
  (
    cd "$1"
    find . -printf '%P %y %m %l\n' | LC_ALL=C sort
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  ) | sha256sum | cut -c1-32
}

# build_image <repository> <context dir> <version function> <check function> [podman build flag ...]
# Builds <dir>/Containerfile unless an image of <repository> carries the same inputs hash (context,
# base image, flags); the version function prints, given the new image ID, the version the tag
# names, and the check function (image ID, reference, version) smoke-tests it. Appends the
# reference to refs.
build_image() {
  local repo=$1 dir=$2 version_fn=$3 check_fn=$4
  shift 4
  local base hash ref
  base=$(sed -n 's/^FROM[[:space:]]\{1,\}\([^[:space:]]*\).*/\1/p' "$dir/Containerfile" |
    { grep -vx scratch || true; } | sort -u | xargs -r podman image inspect --format '{{.Id}}' 2>/dev/null) ||
    fail "a base image of $repo is missing: run \`bash tools/base-image.sh debian\`"
  hash=$({ context_hash "$dir"; echo "$base $*"; } | sha256sum | cut -c1-32)

  if [[ ${HIT_COUNTER_LAB_REBUILD:-} != 1 ]]; then
    ref=$(podman images --noheading --filter "label=$STAMP_LABEL=$hash" --format '{{.Repository}}:{{.Tag}}' |
      grep -m1 "^$repo:" || true)
    if [[ -n $ref ]]; then
      log "  $ref: up to date"
      refs+=("$ref")
      return
    fi
  fi

  log "  building $repo ..."
  local started=$SECONDS iid version previous old no_cache=()
  [[ ${HIT_COUNTER_LAB_REBUILD:-} == 1 ]] && no_cache=(--no-cache)
  podman build --pull=never "${no_cache[@]}" "$@" --label="$STAMP_LABEL=$hash" \
    --iidfile="$dir.iid" -f "$dir/Containerfile" "$dir" >"$dir.log" 2>&1 ||
    fail "building $repo failed (last output: $(tail -n 4 "$dir.log" | tr '\n' ' ')); fix the cause and run again"
  iid=$(<"$dir.iid")
  version=$("$version_fn" "$iid") || fail "cannot read the version of $repo from its image"
  [[ $version =~ ^v?[0-9]+(\.[0-9]+)+$ ]] || fail "$repo: the image reports version \"$version\", not a version number"
  ref=$repo:$version
  checking=$iid
  "$check_fn" "$iid" "$ref" "$version"

  # Tag it; the image the tag named before, and older versions of this repository built here, go
  # (only if nothing else uses them).
  previous=$(podman image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
  podman tag "$iid" "$ref"
  drop_previous "$previous" "$iid"
  for old in $(podman images --noheading --filter "label=$STAMP_LABEL" --format '{{.Repository}}:{{.Tag}}' |
    grep "^$repo:" | grep -vxF "$ref" || true); do
    podman rmi "$old" >/dev/null 2>&1 || true
  done
  log "  built $ref in $((SECONDS - started)) s ($(podman image inspect --format '{{.Size}}' "$ref" | numfmt --to=si)B)"
  refs+=("$ref")
}

# ---- the Debian base and apt --------------------------------------------------------------

log "lab images: Debian $SUITE base ..."
debian=$(bash "$root/tools/base-image.sh" debian | tail -n 1) ||
  fail "the Debian base image failed (output above); fix the cause and run again: bash tools/base-image.sh debian"

# The host's Debian archives for the suite (the release, its updates and security), main only: the
# images get the same package versions, security fixes included, as the host's apt would install.
# shellcheck disable=SC2016 # $(...) is apt's format syntax, not the shell's
apt_sources=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' 2>/dev/null |
  awk -v s="$SUITE" '($2 == s || index($2, s "-") == 1) && $3 == "main" { print "deb " $1 " " $2 " main" }' |
  sort -u)
[[ -n $apt_sources ]] || fail "no Debian $SUITE sources in the host's apt; add one (deb http://<mirror>/debian $SUITE main) and run apt-get update"

# debian_context <name>: a build context whose Containerfile starts from the Debian base with apt
# set up: the host's sources, no service started by a package, no documentation installed.
# The caller appends the rest. Every image shares these first layers.
debian_context() {
  local dir=$work/$1
  mkdir -p "$dir"
  printf '%s\n' "$apt_sources" >"$dir/sources.list"
  cat >"$dir/Containerfile" <<EOF
FROM $debian
COPY sources.list /etc/apt/sources.list
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && \\
    printf 'path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\npath-exclude=/usr/share/man/*\npath-exclude=/usr/share/info/*\n' \\
      >/etc/dpkg/dpkg.cfg.d/no-docs
EOF
  echo "$dir"
}

# The apt step of a Containerfile: install the packages, then drop what apt leaves behind.
apt_install() {
  cat <<EOF
RUN apt-get update -q && \\
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $* && \\
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old \\
      /var/log/apt/* /var/log/*.log
EOF
}

# exporter_context <name> <Debian package> <uid> <port>: an exporter's build context, its binary
# the entrypoint, run as the user of the upstream image.
exporter_context() {
  local dir
  dir=$(debian_context "$1")
  {
    apt_install "$2"
    printf 'USER %s:%s\nEXPOSE %s\nENTRYPOINT ["/usr/bin/%s"]\n' "$3" "$3" "$4" "$2"
  } >>"$dir/Containerfile"
  echo "$dir"
}

# The upstream version of a Debian package inside an image.
deb_version() {
  local iid=$1 pkg=$2 v
  v=$(podman run --rm --network=none --entrypoint=dpkg-query "$iid" -W -f='${Version}' "$pkg") || return 1
  upstream_version "$v"
}

# ---- Redis (server, Sentinel, and the backup CronJob's redis-cli) -------------------------
# The chart runs `sh -c 'exec redis-server /etc/redis/redis.conf --dir /data ...'` as UID 999 on a
# read-only root, its config mounted over /etc/redis; the backup runs backup.sh with sh; the
# replication architecture runs redis-node.sh (redis-server or redis-sentinel).

log "lab images: Debian packages ..."
dir=$(debian_context redis)
{
  # UID/GID 999 as in the official redis image, created first so the package's user is that one.
  echo 'RUN groupadd --system --gid 999 redis && useradd --system --uid 999 --gid 999 --home-dir /var/lib/redis --shell /usr/sbin/nologin redis'
  apt_install redis-server redis-tools redis-sentinel
  cat <<'EOF'
RUN mkdir -p /data && chown 999:999 /data
WORKDIR /data
USER 999:999
EXPOSE 6379
CMD ["redis-server"]
EOF
} >>"$dir/Containerfile"
redis_version() { deb_version "$1" redis-server; }
redis_check() {
  local iid=$1 ref=$2 v=$3
  expect "$ref" "redis-server --version" "$(run_in "$iid" redis-server --version)" "v=$v "
  expect "$ref" "redis-cli --version" "$(run_in "$iid" redis-cli --version)" "redis-cli $v"
  # Every program backup.sh, redis-node.sh and the probes call.
  # shellcheck disable=SC2016 # expanded by the container's shell
  expect "$ref" "the scripts' commands" "$(run_in "$iid" sh -c \
    'for c in sh redis-cli redis-sentinel date tr rm head mv timeout sed grep sleep; do command -v "$c" >/dev/null || { echo "missing $c"; exit 1; }; done; echo all-present')" "all-present"
  expect "$ref" "the user" "$(run_in "$iid" id -u)" "999"
}
build_image localhost/redis "$dir" redis_version redis_check --network=host

# ---- Redis exporter -----------------------------------------------------------------------
# The chart sets no command, only REDIS_ADDR, REDIS_EXPORTER_WEB_LISTEN_ADDRESS and REDIS_PASSWORD.

dir=$(exporter_context redis-exporter prometheus-redis-exporter 59000 9121)
redis_exporter_version() { deb_version "$1" prometheus-redis-exporter; }
redis_exporter_check() {
  local iid=$1 ref=$2 v=$3
  expect "$ref" "prometheus-redis-exporter --version" "$(run_in "$iid" /usr/bin/prometheus-redis-exporter --version)" "Exporter $v"
}
build_image localhost/redis-exporter "$dir" redis_exporter_version redis_exporter_check --network=host

# ---- nginx --------------------------------------------------------------------------------
# The chart runs `nginx -c /etc/nginx/hit-counter/nginx.conf` as UID 101 on a read-only root with
# an emptyDir on /tmp (its config keeps the pid file and every temp path there), scrapes
# stub_status, and runs `sleep` before stopping.

dir=$(debian_context nginx)
{
  # UID/GID 101 as in the upstream unprivileged image.
  echo 'RUN groupadd --system --gid 101 nginx && useradd --system --uid 101 --gid 101 --home-dir /nonexistent --shell /usr/sbin/nologin nginx'
  apt_install nginx
  cat <<'EOF'
# nginx opens its built-in log files before it reads a config: point them at the container's
# output, so a non-root nginx on a read-only root does not start with an alert.
RUN ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
USER 101:101
EXPOSE 8080
# A graceful stop (finish open requests), as the upstream image.
STOPSIGNAL SIGQUIT
# Debian's own /etc/nginx/nginx.conf needs root; the chart mounts its config here.
CMD ["nginx", "-c", "/etc/nginx/hit-counter/nginx.conf"]
EOF
} >>"$dir/Containerfile"
nginx_version() { deb_version "$1" nginx; }
nginx_check() {
  local iid=$1 ref=$2 v=$3 built
  built=$(run_in "$iid" nginx -V)
  expect "$ref" "nginx -V" "$built" "nginx/$v"
  expect "$ref" "nginx -V" "$built" "--with-http_stub_status_module"
  expect "$ref" "sleep (preStop)" "$(run_in "$iid" sh -c 'sleep 0 && echo slept')" "slept"
  expect "$ref" "the user" "$(run_in "$iid" id -u)" "101"
}
build_image localhost/nginx "$dir" nginx_version nginx_check --network=host

# ---- nginx exporter -----------------------------------------------------------------------
# The chart passes --nginx.scrape-uri=... and --web.listen-address=:PORT.

dir=$(exporter_context nginx-exporter prometheus-nginx-exporter 65534 9113)
nginx_exporter_version() { deb_version "$1" prometheus-nginx-exporter; }
nginx_exporter_check() {
  local iid=$1 ref=$2 v=$3 help
  expect "$ref" "prometheus-nginx-exporter --version" "$(run_in "$iid" /usr/bin/prometheus-nginx-exporter --version)" "version=$v"
  help=$(run_in "$iid" /usr/bin/prometheus-nginx-exporter --help || true)
  expect "$ref" "the flags the chart passes" "$help" "-nginx.scrape-uri"
  expect "$ref" "the flags the chart passes" "$help" "-web.listen-address"
}
build_image localhost/nginx-exporter "$dir" nginx_exporter_version nginx_exporter_check --network=host

# ---- curl (the helm test) -----------------------------------------------------------------
# The chart's helm test runs hit-check.sh, which takes curl when there is one. Not busybox: Debian
# builds busybox 1.35 without wget's timeout support, and its wget then crashes on the -T the
# script passes (Debian enables it from 1.36.1-5); busybox's sh runs its own wget applet, so no
# wrapper can stand in. The test runs as UID 65534 on a read-only root.

dir=$(debian_context curl)
{
  apt_install curl
  cat <<'EOF'
USER 65534:65534
CMD ["sh"]
EOF
} >>"$dir/Containerfile"
curl_version() { deb_version "$1" curl; }
curl_check() {
  local iid=$1 ref=$2 v=$3
  expect "$ref" "curl --version" "$(run_in "$iid" curl --version)" "curl $v "
  # Every program hit-check.sh calls.
  # shellcheck disable=SC2016 # expanded by the container's shell
  expect "$ref" "the helm test's commands" "$(run_in "$iid" sh -c \
    'for c in sh curl sed head; do command -v "$c" >/dev/null || { echo "missing $c"; exit 1; }; done; echo all-present')" "all-present"
}
build_image localhost/curl "$dir" curl_version curl_check --network=host

# ---- CoreDNS and local-path-provisioner ---------------------------------------------------
# The binaries tools/build-go.sh builds (it waits for a build already under way, and does nothing
# when they are current). They are linked against glibc, which the Debian base has.

log "lab images: CoreDNS and local-path-provisioner ..."
bash "$root/tools/build-go.sh" coredns local-path-provisioner >&2 ||
  fail "building CoreDNS and local-path-provisioner failed (output above); run again: bash tools/build-go.sh coredns local-path-provisioner"

dir=$work/coredns
mkdir -p "$dir"
cp "$(readlink -f "$tools/bin/coredns")" "$dir/coredns"
# As the upstream image: a non-root user that may still bind port 53, through a file capability
# (effective only where the pod adds NET_BIND_SERVICE).
setcap cap_net_bind_service=+ep "$dir/coredns" || fail "setcap on coredns failed; the host's filesystem must keep extended attributes"
cat >"$dir/Containerfile" <<EOF
FROM $debian
COPY coredns /coredns
USER 65532:65532
EXPOSE 53 53/udp
ENTRYPOINT ["/coredns"]
EOF
coredns_version() { run_in "$1" /coredns -version | sed -n 's/^CoreDNS-\([0-9.]*\)$/\1/p'; }
coredns_check() {
  local iid=$1 ref=$2 v=$3 out
  # The binary answers as its user with only NET_BIND_SERVICE, as in the cluster: serve :53 a moment.
  out=$(podman run --rm --network=none --read-only --cap-drop=all --cap-add=NET_BIND_SERVICE \
    --security-opt=no-new-privileges --entrypoint=sh "$iid" -c \
    'printf ".:53 {\n  whoami\n}\n" >/dev/shm/Corefile && timeout 2 /coredns -conf /dev/shm/Corefile; echo "exit $?"' 2>&1)
  expect "$ref" "coredns serving :53 as its user" "$out" "exit 124"
  expect "$ref" "coredns serving :53 as its user" "$out" "CoreDNS-$v"
}
build_image localhost/coredns "$dir" coredns_version coredns_check

dir=$work/local-path-provisioner
mkdir -p "$dir"
cp "$(readlink -f "$tools/bin/local-path-provisioner")" "$dir/local-path-provisioner"
cat >"$dir/Containerfile" <<EOF
FROM $debian
# On PATH, where the release manifest's command finds it.
COPY local-path-provisioner /usr/bin/local-path-provisioner
ENTRYPOINT ["local-path-provisioner"]
EOF
local_path_version() { run_in "$1" local-path-provisioner --version | sed -n 's/^local-path-provisioner version \(v[0-9.]*\)$/\1/p'; }
local_path_check() { :; } # the version read above ran it
build_image localhost/local-path-provisioner "$dir" local_path_version local_path_check

# ---- busybox ------------------------------------------------------------------------------
# From scratch: Debian's static busybox and a link per applet, for local-path-provisioner's helper
# pods (sh, mkdir, rm). Its wget works without -T (see curl above).

log "lab images: busybox and pause ..."
dir=$work/busybox
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp" "$dir/rootfs/root"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [[ $applet == busybox ]] || ln -s busybox "$dir/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/rootfs/etc/group"
chmod 1777 "$dir/rootfs/tmp"
chmod 700 "$dir/rootfs/root"
cat >"$dir/Containerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["sh"]
EOF
busybox_version() {
  run_in "$1" /bin/busybox | sed -n '1s/^BusyBox v\([0-9.]*\) .*/\1/p'
}
busybox_check() {
  local iid=$1 ref=$2 v=$3 host
  host=$(upstream_version "$(dpkg-query -W -f='${Version}' busybox-static)")
  [[ $v == "$host" ]] || fail "$ref: the image's busybox is $v, the host's busybox-static $host"
  expect "$ref" "sh -c 'wget --help'" "$(run_in "$iid" sh -c 'wget --help')" "Usage: wget"
  # A volume helper's work, as a non-root user; then wget against busybox's httpd on loopback
  # (a name from /etc/hosts: the static binary resolves without any library).
  expect "$ref" "mkdir, rm, httpd and wget" "$(podman run --rm --network=none --user=65534:65534 \
    --entrypoint=sh "$iid" -c 'mkdir -m 0777 -p /tmp/vol/a && rm -rf /tmp/vol/a && mkdir /tmp/www &&
      echo served >/tmp/www/x && httpd -p 127.0.0.1:8080 -h /tmp/www && wget -q -O - http://localhost:8080/x' 2>&1)" "served"
}
build_image localhost/busybox "$dir" busybox_version busybox_check

# ---- pause --------------------------------------------------------------------------------
# The sandbox every pod starts with: pause.c of the Kubernetes release tools/build-go.sh builds,
# with that release's pause version (build/pause/Makefile) and its compiler flags, from scratch.

k8s_dir=$(cd "$root/tools/wrappers/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes 2>/dev/null) || k8s_dir=
[[ -n $k8s_dir && -f $k8s_dir/build/pause/linux/pause.c ]] ||
  fail "the k8s.io/kubernetes module is not in Go's module cache; run: bash tools/build-go.sh kubernetes"
pause_tag=$(sed -n 's/^TAG ?= *\([0-9.]*\)$/\1/p' "$k8s_dir/build/pause/Makefile")
[[ -n $pause_tag ]] || fail "no TAG in $k8s_dir/build/pause/Makefile; update this script to the Makefile's layout"
dir=$work/pause
mkdir -p "$dir"
gcc -Os -Wall -Werror -static "-DVERSION=v$pause_tag" -o "$dir/pause" "$k8s_dir/build/pause/linux/pause.c" 2>"$work/pause-gcc.log" ||
  fail "compiling pause.c failed ($(tail -n 2 "$work/pause-gcc.log" | tr '\n' ' ')); static linking needs libc6-dev"
cat >"$dir/Containerfile" <<'EOF'
FROM scratch
COPY pause /pause
# As the upstream image.
USER 65535:65535
ENTRYPOINT ["/pause"]
EOF
pause_version() { run_in "$1" /pause -v | sed -n 's/^pause\.c v\([0-9.]*\)$/\1/p'; }
pause_check() { :; } # the version read above ran it
build_image localhost/pause "$dir" pause_version pause_check

# ---- the service --------------------------------------------------------------------------
# As test/image/image.test.ts builds it: the local Node base, the npm_ca secret, the repository
# root as context. Always built; podman's layer cache makes an unchanged build take seconds.
# VERSION is the image test's, so the two builds share one image in podman's cache.

log "lab images: the service ..."
node_base=$(bash "$root/tools/base-image.sh" | tail -n 1) ||
  fail "the Node base image failed (output above); fix the cause and run again: bash tools/base-image.sh"
service_version=0.0.0-local # = VERSION in test/image/image.test.ts
ca_file=
for f in "${NODE_EXTRA_CA_CERTS:-}" /etc/ssl/certs/ca-certificates.crt; do
  if [[ -n $f && -f $f ]]; then
    ca_file=$f
    break
  fi
done
previous=$(podman image inspect --format '{{.Id}}' "$SERVICE_REF" 2>/dev/null || true)
started=$SECONDS
podman build --pull=never --jobs=2 -f=service/Dockerfile \
  "--build-arg=NODE_IMAGE=$node_base" "--build-arg=VERSION=$service_version" \
  ${ca_file:+"--secret=id=npm_ca,src=$ca_file"} \
  "--iidfile=$work/service.iid" "--tag=$SERVICE_REF" . >"$work/service.log" 2>&1 ||
  fail "building $SERVICE_REF failed (last output: $(tail -n 4 "$work/service.log" | tr '\n' ' ')); fix the cause and run again"
iid=$(<"$work/service.iid")
iid=${iid#sha256:}
checking=$iid
expect "$SERVICE_REF" "node and dist/main.js" "$(run_in "$iid" sh -c 'test -f dist/main.js && node --version')" "v"
if [[ $iid != "$previous" ]]; then
  drop_previous "$previous" "$iid"
  log "  built $SERVICE_REF in $((SECONDS - started)) s"
else
  log "  $SERVICE_REF: up to date"
fi
refs+=("$SERVICE_REF")

# ---- the archive --------------------------------------------------------------------------
# One docker-archive (shared layers stored once) for `ctr -n k8s.io images import`; rewritten
# only when an image ID changed.

for ref in "${refs[@]}"; do
  echo "$ref $(podman image inspect --format '{{.Id}}' "$ref")"
done >"$work/ids"
if [[ -f $archive && -f $archive.ids ]] && cmp -s "$work/ids" "$archive.ids"; then
  log "lab images: $archive is up to date"
else
  log "lab images: writing $archive ..."
  started=$SECONDS
  rm -f "$archive.ids"
  partial=$(mktemp --suffix=.partial "$archive.XXXXXX")
  rm -f "$partial" # podman save refuses to overwrite
  podman save --quiet --multi-image-archive --format=docker-archive -o "$partial" "${refs[@]}" 2>"$work/save.log" ||
    fail "podman save to $archive failed ($(tail -n 2 "$work/save.log" | tr '\n' ' ')); check the free space there"
  mv "$partial" "$archive"
  partial=
  cp "$work/ids" "$archive.ids"
  log "  wrote $(du -h "$archive" | cut -f1) in $((SECONDS - started)) s"
fi
printf '%s\n' "${refs[@]}"
