#!/usr/bin/env bash
# Builds a local Node 24 base image for service/Dockerfile without any container registry:
# Debian bookworm (debootstrap, variant minbase, from the mirror in the host's apt sources) plus
# the pinned Node binary tools/install.sh fetched into .tools/ and npm from the npm registry.
# The result is imported into podman as $HIT_COUNTER_BASE_IMAGE (default below) and its name is
# printed on stdout. Cached: an existing image is kept, and the debootstrap tarball is kept under
# .tools/base/ so a rebuild of the image does not fetch Debian again.
# With `debian`, the same Debian minbase alone (no Node) is imported as $HIT_COUNTER_DEBIAN_IMAGE,
# the base of the images tools/lab-images.sh builds from Debian's packages.
#
#   bash tools/base-image.sh          (needs root: debootstrap and rootful podman)
#   bash tools/base-image.sh debian   the plain Debian minbase image
#   DEBIAN_MIRROR=http://host/debian bash tools/base-image.sh     another mirror
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HIT_COUNTER_TOOLS:-$root/.tools}
SUITE=bookworm
NPM_VERSION=11.19.0 # the npm that Node 24.21.0 bundles

fail() {
  echo "tools/base-image.sh: $1" >&2
  exit 1
}
mode=${1:-node}
[[ $mode == node || $mode == debian ]] || fail "unknown argument \"$mode\" (none for the Node base, or \`debian\`)"
for bin in debootstrap podman tar; do
  command -v "$bin" >/dev/null || fail "$bin not found: run \`bash tools/install.sh\`"
done
[[ $mode == debian || -x $tools/bin/node ]] || fail "Node not found in $tools/bin: run \`bash tools/install.sh\`"
[[ -f $tools/containers.conf ]] || fail "$tools/containers.conf not found: run \`bash tools/install.sh\`"
export CONTAINERS_CONF=$tools/containers.conf
[[ $(id -u) == 0 ]] || fail "debootstrap needs root; run it as root (or with sudo)"

if [[ $mode == debian ]]; then
  image=${HIT_COUNTER_DEBIAN_IMAGE:-localhost/hit-counter-debian:$SUITE}
else
  node_version=$("$tools/bin/node" --version) # e.g. v24.21.0
  image=${HIT_COUNTER_BASE_IMAGE:-localhost/hit-counter-base:node${node_version#v}-$SUITE}
fi
# One build at a time (the image test and tools/lab-images.sh may call this together): a second
# caller waits, then finds the image made.
cache=$tools/base
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if podman image exists "$image"; then
  echo "$image"
  exit 0
fi

# The first Debian archive (not -security/-updates) the host's apt knows for this suite.
# shellcheck disable=SC2016 # $(...) is apt's format syntax, not the shell's
mirror=${DEBIAN_MIRROR:-$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
  awk -v s="$SUITE" '$2 == s && $1 !~ /security/ { print $1; exit }')}
[[ -n $mirror ]] || fail "no Debian $SUITE mirror in the host's apt sources; set DEBIAN_MIRROR=http://<mirror>/debian"

work=$(mktemp -d "$cache/work.XXXXXX")
cleanup() {
  # An interrupted debootstrap can leave /proc or /sys mounted inside its target.
  findmnt -rn -o TARGET | grep -F "$work/" | sort -r | xargs -r umount -l || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# 1. Debian minbase, cached as a tarball.
rootfs_tar=$cache/debian-$SUITE-minbase.tar
if [[ ! -f $rootfs_tar ]]; then
  echo "debootstrap $SUITE (minbase) from $mirror ..." >&2
  debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    fail "debootstrap failed (log: $(tail -n 3 "$work/debootstrap.log" | tr '\n' ' '))"
  # Only what a runtime needs: no package caches or lists, docs, man pages or device nodes.
  rm -rf "$work"/rootfs/var/cache/apt/* "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/usr/share/doc/* \
    "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/info/* "$work"/rootfs/var/log/* "$work"/rootfs/dev/*
  tar -C "$work/rootfs" --numeric-owner -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work/rootfs"
fi

# The plain Debian image is that tarball as one layer.
if [[ $mode == debian ]]; then
  echo "importing $image ..." >&2
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "Debian $SUITE minbase" \
    "$rootfs_tar" "$image" >/dev/null
  echo "$image"
  exit 0
fi

# 2. Node and npm under /usr/local, as the official node images have them.
npm_tgz=$cache/npm-$NPM_VERSION.tgz
if [[ ! -f $npm_tgz ]]; then
  (cd "$work" && npm pack --silent "npm@$NPM_VERSION" >/dev/null) ||
    fail "could not fetch npm@$NPM_VERSION from the npm registry"
  mv "$work/npm-$NPM_VERSION.tgz" "$npm_tgz"
fi
rootfs=$work/rootfs
mkdir -p "$rootfs"
tar -C "$rootfs" --numeric-owner -xf "$rootfs_tar"
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
cp "$(readlink -f "$tools/bin/node")" "$rootfs/usr/local/bin/node"
tar -xzf "$npm_tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# 3. One layer, imported into podman.
echo "importing $image ..." >&2
podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'CMD ["node"]' \
  --message "Debian $SUITE minbase + Node ${node_version#v} + npm $NPM_VERSION" \
  - "$image" >/dev/null < <(tar -C "$rootfs" --numeric-owner -c .)
echo "$image"
