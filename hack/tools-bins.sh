#!/usr/bin/env bash
# tools-bins.sh prints the path of each named tool, building it first from the
# Go module proxy when it is missing.
#
# Usage: hack/tools-bins.sh TOOL...   TOOL: controller-gen | helm
#   e.g. CONTROLLER_GEN="$(hack/tools-bins.sh controller-gen)"
#
# Each binary is cached outside the repository with its version in the file
# name ($LAYERCACHE_CACHE/bin/TOOL-VERSION), so bumping a version builds the new
# one once and a fresh clone reuses what an earlier one built.
#
# Environment:
#   LAYERCACHE_CACHE        cache root (default ~/.cache/layercache)
#   CONTROLLER_GEN_VERSION  sigs.k8s.io/controller-tools version (default v0.23.0)
#   HELM_VERSION            helm.sh/helm/v3 version (default v3.22.0)
#   GO                      go command (default go)
set -euo pipefail

log() { printf 'tools-bins: %s\n' "$*" >&2; }
go_cmd="${GO:-go}"
bin="${LAYERCACHE_CACHE:-$HOME/.cache/layercache}/bin"
[ "$#" -gt 0 ] || { log "usage: $0 controller-gen|helm ..."; exit 2; }

# helm_ldflags VERSION stamps what helm's own Makefile stamps: without it
# `helm version` says v3.22 and charts see .Capabilities.KubeVersion v1.20
# instead of the Kubernetes minor helm is built against (its k8s.io/client-go).
helm_ldflags() {
	local modfile minor
	modfile="$(cd / && GOFLAGS= "$go_cmd" mod download -json "helm.sh/helm/v3@$1" |
		sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
	minor="$(awk '$1 == "k8s.io/client-go" { split($2, v, "."); print v[2]; exit }' "$modfile")"
	[ -n "$minor" ] || { log "cannot read k8s.io/client-go from helm $1's go.mod"; return 1; }
	printf -- '-X helm.sh/helm/v3/internal/version.version=%s' "$1"
	for p in pkg/chartutil pkg/lint/rules; do
		printf -- ' -X helm.sh/helm/v3/%s.k8sVersionMajor=1 -X helm.sh/helm/v3/%s.k8sVersionMinor=%s' "$p" "$p" "$minor"
	done
}

for tool in "$@"; do
	case "$tool" in
	controller-gen) ver="${CONTROLLER_GEN_VERSION:-v0.23.0}" pkg=sigs.k8s.io/controller-tools/cmd/controller-gen ;;
	helm) ver="${HELM_VERSION:-v3.22.0}" pkg=helm.sh/helm/v3/cmd/helm ;;
	*) log "unknown tool: $tool (known: controller-gen, helm)"; exit 2 ;;
	esac
	out="$bin/$tool-$ver"
	if [ ! -x "$out" ]; then
		log "building $tool $ver into $bin (a minute or two, once)"
		ldflags=""
		[ "$tool" = helm ] && ldflags="$(helm_ldflags "$ver")"
		mkdir -p "$bin"
		# Install into a temp dir beside the target and rename, so an
		# interrupted build never leaves a half-written binary under $out.
		tmp="$(mktemp -d "$bin/.$tool.XXXXXX")"
		trap 'rm -rf "$tmp"' EXIT
		start=$SECONDS
		(cd / && GOBIN="$tmp" GOWORK=off GOFLAGS= CGO_ENABLED=0 "$go_cmd" install \
			-trimpath -ldflags="-s -w $ldflags" "$pkg@$ver")
		mv -f "$tmp/$tool" "$out"
		rm -rf "$tmp"
		log "built $out in $((SECONDS - start))s"
	fi
	echo "$out"
done
