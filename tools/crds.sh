#!/usr/bin/env bash
# Fetches the CustomResourceDefinitions the chart and the GitOps manifests use, pinned, from the
# projects' own Go module zips (through the Go module proxy), into .tools/crds/<project>/.
# kubectl-validate reads them with --local-crds. Safe to run again: a pinned set already present
# is kept.
#
#   bash tools/crds.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${HIT_COUNTER_TOOLS:-$root/.tools}

# ---- pins: <dir> <module@version> <folder in the module> <CRD files> ----------------------
CRD_SETS=(
  "prometheus-operator github.com/prometheus-operator/prometheus-operator@v0.85.0 example/prometheus-operator-crd monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml monitoring.coreos.com_podmonitors.yaml"
  "argo-cd github.com/argoproj/argo-cd/v3@v3.2.11 manifests/crds application-crd.yaml appproject-crd.yaml applicationset-crd.yaml"
)
# -------------------------------------------------------------------------------------------

fail() {
  echo "tools/crds.sh: $1" >&2
  exit 1
}
command -v go >/dev/null || fail "Go is needed to fetch the CRDs through the Go module proxy; install Go 1.26+ and run again"

fetch_set() {
  local name=$1 module=$2 folder=$3
  shift 3
  local dest=$tools/crds/$name stamp=$tools/crds/$name/.pinned
  # The stamp records the module and the files: a changed pin or file list fetches again.
  if [[ -f $stamp && $(<"$stamp") == "$module $*" ]]; then
    return
  fi
  echo "fetching CRDs from $module ..."
  local json zipdir
  json=$(cd "$tools" && GOFLAGS=-mod=mod GO111MODULE=on go mod download -json "$module") ||
    fail "go mod download $module failed (is the Go module proxy reachable?): $json"
  zipdir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [[ -n $zipdir && -d $zipdir/$folder ]] || fail "$module has no folder $folder (download said: $json)"
  rm -rf "$dest"
  mkdir -p "$dest"
  local file
  for file in "$@"; do
    [[ -f $zipdir/$folder/$file ]] || fail "$module has no $folder/$file; check the pin in tools/crds.sh"
    cp "$zipdir/$folder/$file" "$dest/$file"
    chmod u+w "$dest/$file"
  done
  printf '%s' "$module $*" >"$stamp"
}

mkdir -p "$tools/crds"
for set in "${CRD_SETS[@]}"; do
  # shellcheck disable=SC2086 # the set is a word list on purpose
  fetch_set $set
done
