#!/usr/bin/env bash
# envtest-bins.sh prints the directory holding kube-apiserver and etcd for
# controller-runtime's envtest (KUBEBUILDER_ASSETS), and kubectl for the
# end-to-end tests (test/e2e), building them first when they are missing.
#
# Usage: KUBEBUILDER_ASSETS="$(hack/envtest-bins.sh)" go test ./...
#
# There is no prebuilt-binary download here (setup-envtest needs the internet),
# so both are built from source through the Go module proxy, from the tool
# modules in hack/envtest/ (see update.sh there), once per version. With a
# cold Go build cache on 2 cores that is ~15 CPU-minutes, 8-20 minutes of wall
# time depending on load; later runs print the directory at once. It is
# outside the repository so that it survives between clones of it.
#
# Environment:
#   LAYERCACHE_CACHE  cache root (default ~/.cache/layercache); binaries go to
#                     $LAYERCACHE_CACHE/k8s/<kubernetes version>
#   GO                go command (default go)
set -euo pipefail

log() { printf 'envtest-bins: %s\n' "$*" >&2; }
go_cmd="${GO:-go}"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/envtest" && pwd)"

# The versions are read from the tool modules, so bumping them there is all it
# takes to build new binaries.
modver() { awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) && $0 !~ /=>/ { print $NF; exit }' "$src/$1/go.mod"; }
k8s="$(modver apiserver k8s.io/kubernetes)"
etcd="$(modver etcd go.etcd.io/etcd/server/v3)"
[ -n "$k8s" ] && [ -n "$etcd" ] || { log "error: cannot read versions from $src/*/go.mod"; exit 1; }
dir="${LAYERCACHE_CACHE:-$HOME/.cache/layercache}/k8s/${k8s#v}"

# etcd's version is not in the directory name, so ask the binary (grep
# without -q reads all of it: an early exit could SIGPIPE etcd and fail the
# pipeline under pipefail).
etcd_ok() { [ -x "$dir/etcd" ] && "$dir/etcd" --version 2>/dev/null | grep -x "etcd Version: ${etcd#v}" >/dev/null; }
if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/kubectl" ] && etcd_ok; then
	echo "$dir"
	exit 0
fi

mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# build NAME MODULE PACKAGE LDFLAGS: the binary is built in $tmp (same file
# system) and renamed into place, so an interrupted build never leaves a
# half-written binary under the final name.
build() {
	log "building $1 from $src/$2 (takes minutes, once)"
	local start=$SECONDS
	(cd "$src/$2" && GOWORK=off GOFLAGS= CGO_ENABLED=0 "$go_cmd" build \
		-mod=readonly -trimpath -buildvcs=false -ldflags="-s -w $4" -o "$tmp/$1" "$3")
	mv -f "$tmp/$1" "$dir/$1"
	log "built $dir/$1 in $((SECONDS - start))s"
}

if ! etcd_ok; then
	build etcd etcd go.etcd.io/etcd/server/v3 ""
fi
# Stamp the version the way Kubernetes' own build does; otherwise the
# binaries report v0.0.0-master.
minor="${k8s#v1.}"
vflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	vflags+=" -X $p.gitVersion=$k8s -X $p.gitMajor=1 -X $p.gitMinor=${minor%%.*} -X $p.gitTreeState=clean"
done
if [ ! -x "$dir/kube-apiserver" ]; then
	build kube-apiserver apiserver k8s.io/kubernetes/cmd/kube-apiserver "$vflags"
fi
# kubectl comes from the same tool module (tools.go pins it), so it matches
# the API server's version; the end-to-end tests use it as a user would.
if [ ! -x "$dir/kubectl" ]; then
	build kubectl apiserver k8s.io/kubernetes/cmd/kubectl "$vflags"
fi
echo "$dir"
