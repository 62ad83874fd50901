#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target in the given packages (default ./...) for
# FUZZTIME each (default 30s). `go test -fuzz` takes one target at a time, so
# the targets are listed per package with `go test -list '^Fuzz'` first.
#
# Environment:
#   GO        go command (default go)
#   FUZZTIME  -fuzztime per target (default 30s): a duration or Nx
#   FUZZ      extended regexp that target names must match (default: all)
set -euo pipefail

go_cmd="${GO:-go}"
fuzztime="${FUZZTIME:-30s}"
filter="${FUZZ:-.}"

if [ "$#" -eq 0 ]; then
	set -- ./...
fi

# Only packages with test files can hold fuzz targets.
mapfile -t pkgs < <("$go_cmd" list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' "$@" | sed '/^$/d')

ran=0
failed=()
for pkg in "${pkgs[@]}"; do
	list="$("$go_cmd" test -list '^Fuzz' "$pkg")" || {
		printf '%s\n' "$list" >&2
		echo "fuzz: could not list the fuzz targets of $pkg" >&2
		exit 1
	}
	mapfile -t targets < <(printf '%s\n' "$list" | grep -E '^Fuzz' | grep -E -- "$filter" || true)
	for target in "${targets[@]}"; do
		echo "fuzz: $pkg $target for $fuzztime"
		ran=$((ran + 1))
		if ! "$go_cmd" test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"; then
			failed+=("$pkg.$target")
		fi
	done
done

if [ "$ran" -eq 0 ]; then
	echo "fuzz: no fuzz targets matched '$filter' in: $*"
	exit 0
fi
if [ "${#failed[@]}" -gt 0 ]; then
	echo "fuzz: ${#failed[@]} of $ran targets failed (failing inputs are saved under each package's testdata/fuzz):" >&2
	printf '  %s\n' "${failed[@]}" >&2
	exit 1
fi
echo "fuzz: all $ran targets ran for $fuzztime without a failure"
