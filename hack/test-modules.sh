#!/usr/bin/env bash
# test-modules.sh vets and tests every nested Go module under the given
# directories (default pkg/cache): each directory below them that holds a
# go.mod, other than the repository root. The framework integrations
# (gincache, echocache, grpccache, gqlcache, httpcache/chitest) are such
# modules, so that their dependencies stay out of the main go.mod; the
# root's `go test ./...` does not enter them. Each module's go.sum is
# committed: -mod=readonly (the default) fails if one is missing an entry.
#
# Environment:
#   GO            go command (default go)
#   GOTEST_FLAGS  flags for go test (default: -race -count=1)
#   TIDY_CHECK    when 1, also fail if `go mod tidy` would change a module
set -euo pipefail

go_cmd="${GO:-go}"
read -r -a test_flags <<<"${GOTEST_FLAGS:--race -count=1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ "$#" -eq 0 ]; then
	set -- pkg/cache
fi

mapfile -t mods < <(find "$@" -name go.mod -not -path '*/testdata/*' -not -path '*/vendor/*' -printf '%h\n' | sort)
if [ "${#mods[@]}" -eq 0 ]; then
	echo "test-modules: no nested modules under $*" >&2
	exit 1
fi

failed=()
for dir in "${mods[@]}"; do
	[ "$(cd "$dir" && pwd)" = "$root" ] && continue
	echo "== $dir"
	if ! (
		cd "$dir"
		if [ "${TIDY_CHECK:-0}" = 1 ]; then
			"$go_cmd" mod tidy -diff
		fi
		"$go_cmd" vet ./...
		"$go_cmd" test "${test_flags[@]}" ./...
	); then
		failed+=("$dir")
	fi
done

if [ "${#failed[@]}" -gt 0 ]; then
	echo "test-modules: failed: ${failed[*]}" >&2
	exit 1
fi
echo "test-modules: ${#mods[@]} modules ok"
