#!/usr/bin/env bash
# update.sh regenerates go.mod/go.sum of the two envtest tool modules.
#
# Usage: hack/envtest/update.sh K8S_VERSION ETCD_VERSION   (e.g. v1.37.2 v3.6.16)
#
# kube-apiserver and etcd are separate modules because k8s.io/kubernetes
# requires go.etcd.io/etcd/server/v3 v3.7.x: in one module, minimal version
# selection would build that etcd instead of ETCD_VERSION.
set -euo pipefail

k8s="${1:?usage: $0 K8S_VERSION ETCD_VERSION}"
etcd="${2:?usage: $0 K8S_VERSION ETCD_VERSION}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export GOFLAGS=-mod=mod

# k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0
# and points them at ./staging; replace lines only count in the main module,
# so map each one to its published tag here (v1.X.Y -> v0.X.Y).
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
modfile="$(cd "$tmp" && go mod download -json "k8s.io/kubernetes@$k8s" |
	sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
[ -s "$modfile" ] || { echo "update.sh: no go.mod for k8s.io/kubernetes@$k8s" >&2; exit 1; }

{
	printf 'module github.com/layercache/layercache/hack/envtest/apiserver\n\ngo 1.26\n\n'
	printf 'require k8s.io/kubernetes %s\n\nreplace (\n' "$k8s"
	awk -v v="v0.${k8s#v1.}" '$2 == "=>" && $3 ~ /^\.\/staging\// { printf "\t%s => %s %s\n", $1, $1, v }' "$modfile"
	printf ')\n'
} >"$here/apiserver/go.mod"

printf 'module github.com/layercache/layercache/hack/envtest/etcd\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
	"$etcd" >"$here/etcd/go.mod"

for m in apiserver etcd; do
	rm -f "$here/$m/go.sum"
	(cd "$here/$m" && go mod tidy)
done
