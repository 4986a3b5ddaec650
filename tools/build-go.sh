#!/usr/bin/env bash
# Builds the pinned Go components of the local cluster from the wrapper modules under
# tools/wrappers/ (their go.mod and go.sum pin and checksum every byte) into a per-user cache keyed
# by version, ${XDG_CACHE_HOME:-~/.cache}/hit-counter/<component>@<version>, and links the
# binaries into .tools/bin. A fresh clone on the same machine reuses what is built; Go's module and
# build caches stay in their default per-user places, so a version bump rebuilds in minutes.
# A lock keeps concurrent runs from building the same component twice.
#
#   bash tools/build-go.sh [component ...]    default: every component
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HIT_COUNTER_TOOLS:-$root/.tools}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/hit-counter

# ---- pins: <component> <module>@<version> <minutes cold on 2 cores> <package[:binary] ...> -----
# The wrapper's go.mod must require exactly <module> <version> (checked before each build).
K8S_VERSION=v1.34.4
COMPONENTS=(
  "kubernetes k8s.io/kubernetes@$K8S_VERSION 10 k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy"
  "etcd go.etcd.io/etcd/server/v3@v3.6.16 3 go.etcd.io/etcd/server/v3:etcd"
  "kwok sigs.k8s.io/kwok@v0.8.0 3 sigs.k8s.io/kwok/cmd/kwok"
  # One multi-call binary that acts as the part its name says (argocd-repo-server, ...).
  # v3.2.12 does not compile; v3.3 and later need a local gitops-engine the proxy does not serve.
  "argocd github.com/argoproj/argo-cd/v3@v3.2.11 7 github.com/argoproj/argo-cd/v3/cmd:argocd"
  "prometheus-operator github.com/prometheus-operator/prometheus-operator@v0.85.0 3 github.com/prometheus-operator/prometheus-operator/cmd/operator:prometheus-operator"
  # The real node's cluster DNS and storage provisioner (v0.0.30 is the newest the proxy serves).
  "coredns github.com/coredns/coredns@v1.15.0 3 github.com/coredns/coredns"
  "local-path-provisioner github.com/rancher/local-path-provisioner@v0.0.30 2 github.com/rancher/local-path-provisioner"
  # The tofu that formats and checks infra/ (v1.12.6 is the newest the proxy serves).
  "opentofu github.com/opentofu/opentofu@v1.12.6 6 github.com/opentofu/opentofu/cmd/tofu"
)
# -------------------------------------------------------------------------------------------

fail() {
  echo "tools/build-go.sh: $1" >&2
  exit 1
}

# Version stamps for the Kubernetes binaries: without them they report v0.0.0-master+$Format:%H$,
# which kubectl and helm refuse.
k8s_ldflags() {
  local v=$K8S_VERSION minor
  minor=$(cut -d. -f2 <<<"$v")
  local flags=() pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=("-X $pkg.gitVersion=$v" "-X $pkg.gitMajor=1" "-X $pkg.gitMinor=$minor" "-X $pkg.gitTreeState=clean")
  done
  echo "${flags[*]}"
}

# Each component's extra step is called with the cache entry being built and the directory of its
# module zip, and writes what it keeps from the zip into the entry.

# kwok does nothing without stages: its own "fast" set (nodes Ready with a lease heartbeat, pods
# Running and Ready at once, completed and deleted), into stages.yaml.
kwok_stages() {
  local out=$1 dir=$2 f
  for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    [[ -f $dir/kustomize/stage/$f.yaml ]] || fail "sigs.k8s.io/kwok has no kustomize/stage/$f.yaml"
    echo "---"
    cat "$dir/kustomize/stage/$f.yaml"
  done >"$out/stages.yaml"
}

# The API server's OpenAPI v3 documents of the same release, into openapi/, laid out as
# kubectl-validate's --local-schemas reads them (api/v1.json, apis/<group>/<version>.json): the
# offline schema pre-check validates against exactly the cluster's version.
k8s_openapi() {
  local out=$1/openapi dir=$2 f base
  [[ -d $dir/api/openapi-spec/v3 ]] || fail "k8s.io/kubernetes has no api/openapi-spec/v3"
  mkdir -p "$out/api" "$out/apis"
  for f in "$dir"/api/openapi-spec/v3/api*__*_openapi.json; do
    base=$(basename "$f" _openapi.json) # api__v1, apis__apps__v1
    if [[ $base == api__* ]]; then
      cp "$f" "$out/api/${base#api__}.json"
    else
      base=${base#apis__}
      [[ $base == *__* ]] || continue # a group's own document, no version
      mkdir -p "$out/apis/${base%__*}"
      cp "$f" "$out/apis/${base%__*}/${base##*__}.json"
    fi
  done
  chmod -R u+w "$out"
}

# Argo CD's parts are its one binary under their own names; its CRDs and its install manifest (the
# ConfigMaps, Secret and RBAC the parts read) go into manifests/.
argocd_parts() {
  local out=$1 dir=$2 part
  for part in argocd-repo-server argocd-application-controller argocd-applicationset-controller; do
    ln -sfn argocd "$out/$part"
  done
  mkdir -p "$out/manifests"
  cp -r "$dir/manifests/crds" "$dir/manifests/core-install.yaml" "$out/manifests/"
  chmod -R u+w "$out/manifests"
}

# The operator runs against its own release's CRDs (Prometheus, ServiceMonitor, PrometheusRule ...),
# into crds/.
operator_crds() {
  local out=$1/crds dir=$2
  [[ -d $dir/example/prometheus-operator-crd ]] || fail "prometheus-operator has no example/prometheus-operator-crd"
  mkdir -p "$out"
  cp "$dir"/example/prometheus-operator-crd/*.yaml "$out/"
  chmod -R u+w "$out"
}

# The provisioner runs from its release's own install manifest (namespace, RBAC, StorageClass and
# the ConfigMap with its helper pod), into deploy/.
local_path_manifest() {
  local out=$1/deploy dir=$2
  [[ -f $dir/deploy/local-path-storage.yaml ]] || fail "local-path-provisioner has no deploy/local-path-storage.yaml"
  mkdir -p "$out"
  cp "$dir/deploy/local-path-storage.yaml" "$out/"
  chmod -R u+w "$out"
}

# The extra step of a component (its own shell function), if it has one.
extra_step() {
  case $1 in
  kubernetes) echo k8s_openapi ;;
  kwok) echo kwok_stages ;;
  argocd) echo argocd_parts ;;
  prometheus-operator) echo operator_crds ;;
  local-path-provisioner) echo local_path_manifest ;;
  esac
}

# A partial build is removed whatever stops it (a failure, Ctrl-C).
building=
trap '[[ -n $building ]] && rm -rf "$building"' EXIT
trap 'exit 130' INT TERM

build_component() {
  local name=$1 pin=$2 minutes=$3
  shift 3
  local module=${pin%@*} version=${pin##*@}
  local wrapper=$root/tools/wrappers/$name
  [[ -f $wrapper/go.mod ]] || fail "no wrapper module tools/wrappers/$name"
  grep -qE "^[[:space:]]*(require[[:space:]]+)?${module//./\\.} ${version//./\\.}( |$)" "$wrapper/go.mod" ||
    fail "tools/wrappers/$name/go.mod does not require $module $version; run there: go get $module@$version"

  local ldflags="-s -w" step
  case $name in
  kubernetes) ldflags+=" $(k8s_ldflags)" ;;
  # The version each one reports (and logs at startup) instead of a placeholder.
  argocd)
    local pkg=github.com/argoproj/argo-cd/v3/common
    ldflags+=" -X $pkg.version=${version#v} -X $pkg.gitTag=$version -X $pkg.gitTreeState=clean"
    ;;
  prometheus-operator) ldflags+=" -X github.com/prometheus/common/version.Version=${version#v}" ;;
  local-path-provisioner) ldflags+=" -X main.VERSION=$version" ;;
  opentofu) ldflags+=" -X github.com/opentofu/opentofu/version.dev=no" ;; # 1.12.6, not 1.12.6-dev
  esac
  step=$(extra_step "$name")
  # What the cache entry is made from: the wrapper, the toolchain and platform, the flags and the
  # component's extra step. A change rebuilds it (Go's build cache makes that fast); the same
  # inputs never do.
  local stamp
  stamp=$(cat "$wrapper/go.mod" "$wrapper/go.sum" <(go version) <(echo "$ldflags $*") \
    <([[ -z $step ]] || declare -f "$step") | sha256sum | cut -c1-16) ||
    fail "Go 1.26+ is needed to build $name@$version; install it and run again"
  local dest=$cache/$name@$version
  local pkgs=() bins=() spec
  for spec in "$@"; do
    pkgs+=("${spec%%:*}")
    if [[ $spec == *:* ]]; then bins+=("${spec##*:}"); else bins+=("${spec##*/}"); fi
  done

  mkdir -p "$cache"
  exec 9>"$cache/.$name.lock"
  if ! flock -n 9; then
    echo "waiting for another build of $name@$version to finish ..."
    flock 9
  fi
  if [[ ! -f $dest/.stamp || $(<"$dest/.stamp") != "$stamp" ]]; then
    echo "building $name@$version: ${bins[*]} (≈$minutes min on 2 cores, once; then cached in $dest) ..."
    local tmp=$cache/.$name@$version.tmp started=$SECONDS
    building=$tmp
    rm -rf "$tmp"
    mkdir -p "$tmp"
    (cd "$wrapper" && GOFLAGS=-buildvcs=false GOTOOLCHAIN=local nice -n 10 \
      go build -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}") ||
      fail "building $name@$version failed (go's output above); fix the cause and run again: bash tools/build-go.sh $name"
    # go build names a binary after the last element of its package path (before a /vN suffix).
    local i base
    for i in "${!pkgs[@]}"; do
      base=${pkgs[$i]##*/}
      [[ $base =~ ^v[0-9]+$ ]] && base=$(basename "$(dirname "${pkgs[$i]}")")
      [[ -x $tmp/$base ]] || fail "building $name@$version gave no $base"
      if [[ $base != "${bins[$i]}" ]]; then mv "$tmp/$base" "$tmp/${bins[$i]}"; fi
    done
    if [[ -n $step ]]; then
      local moddir
      moddir=$(cd "$wrapper" && go list -m -f '{{.Dir}}' "$module") ||
        fail "go list -m $module failed in tools/wrappers/$name"
      "$step" "$tmp" "$moddir"
    fi
    echo "$stamp" >"$tmp/.stamp"
    rm -rf "$dest"
    mv "$tmp" "$dest"
    building=
    echo "built $name@$version in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
  fi
  exec 9>&-
  case $name in
  kubernetes) ln -sfn "$dest/openapi" "$tools/kubernetes-openapi" ;;
  kwok) ln -sfn "$dest/stages.yaml" "$tools/kwok-stages.yaml" ;;
  argocd) ln -sfn "$dest/manifests" "$tools/argocd-manifests" ;;
  prometheus-operator) ln -sfn "$dest/crds" "$tools/prometheus-operator-crds" ;;
  local-path-provisioner) ln -sfn "$dest/deploy/local-path-storage.yaml" "$tools/local-path-storage.yaml" ;;
  esac
  # Every program of the entry, the multi-call binary's names included.
  local bin
  for bin in "$dest"/*; do
    if [[ -f $bin && -x $bin ]]; then ln -sfn "$bin" "$tools/bin/${bin##*/}"; fi
  done
}

names=()
for line in "${COMPONENTS[@]}"; do names+=("${line%% *}"); done
for arg in "$@"; do
  [[ " ${names[*]} " == *" $arg "* ]] || fail "unknown component \"$arg\" (one of: ${names[*]})"
done

mkdir -p "$tools/bin"
for line in "${COMPONENTS[@]}"; do
  read -r -a fields <<<"$line"
  if (($#)) && [[ " $* " != *" ${fields[0]} "* ]]; then continue; fi
  build_component "${fields[@]}"
done
