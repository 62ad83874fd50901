#!/usr/bin/env bash
# install-redis.sh installs Debian's redis-server when it is not on PATH.
#
# The tests start their own redis-server on a free loopback port (or use
# LAYERCACHE_TEST_REDIS_URL when it is set), so this only makes sure the
# binary exists. It is idempotent: when redis-server is already on PATH it
# prints the version it found and does nothing else.
#
# Installing needs root: as root it runs apt-get directly, otherwise through
# sudo when sudo is available; anything else fails with a message saying what
# to install by hand.
set -euo pipefail

log() { printf 'install-redis: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if path="$(command -v redis-server 2>/dev/null)"; then
	log "found $path ($("$path" --version 2>/dev/null | head -n 1 || echo 'version unknown'))"
	exit 0
fi

# cannot_install explains why redis-server cannot be installed here. With
# LAYERCACHE_TEST_REDIS_URL set the tests use that server instead, so it is
# only a warning; without it, it is an error.
cannot_install() {
	if [ -n "${LAYERCACHE_TEST_REDIS_URL:-}" ]; then
		log "warning: $1"
		log "LAYERCACHE_TEST_REDIS_URL is set: tests will use that server (tests that need a redis-server of their own skip)"
		exit 0
	fi
	die "$1; install it yourself ('apt-get update && apt-get install -y redis-server' on Debian), or set LAYERCACHE_TEST_REDIS_URL=redis://host:port/db to a server the tests may use"
}

command -v apt-get >/dev/null 2>&1 ||
	cannot_install "redis-server is not on PATH and apt-get is not available"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo)
	else
		cannot_install "redis-server is not on PATH; installing it needs root, and sudo is not available"
	fi
fi

log "redis-server is not on PATH: installing Debian's redis-server with apt-get"
export DEBIAN_FRONTEND=noninteractive
${sudo[@]+"${sudo[@]}"} apt-get update ||
	die "'apt-get update' failed (see above)"
${sudo[@]+"${sudo[@]}"} apt-get install -y --no-install-recommends redis-server ||
	die "'apt-get install -y redis-server' failed (see above)"

# Make this shell find a binary installed into a directory that was not on
# PATH yet (Debian puts it in /usr/bin, which always is).
hash -r
path="$(command -v redis-server 2>/dev/null)" ||
	die "apt-get installed redis-server, but it is still not on PATH (PATH=$PATH)"
log "installed $path ($("$path" --version | head -n 1))"
