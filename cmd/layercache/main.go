// Command layercache administers the Redis layer of layercache stacks: it
// counts, lists, decodes and invalidates the entries that
// pkg/cache/rediscache stores.
//
// Usage:
//
//	layercache <command> --redis <url> [flags]
//
// Commands:
//
//	stats       count the layer's keys: sizes, envelopes, compression, states, TTLs
//	keys        list the layer's cache keys (layer prefix stripped)
//	inspect     decode one stored entry: TTL, compression, state, tags, payload
//	invalidate  delete entries by tag, key prefix, pattern or key, untrack them
//	            from the Redis tag index and publish the deletion on the
//	            invalidation bus, so other instances drop their local copies
//
// Flags every command takes:
//
//	--redis url        redis://[user:password@]host[:port][/db], rediss://… (TLS)
//	                   or host[:port]; default $LAYERCACHE_REDIS_URL
//	--cluster          the URL names a Redis Cluster node (redis.ParseClusterURL)
//	--prefix p         the layer's key prefix (rediscache.Options.Prefix)
//	--json             machine-readable output instead of a table
//	--timeout d        bound for the whole command (0: none); default 1m
//	--require-tls      refuse anything but rediss://
//
// Credentials are masked (user:***@) in every message the command prints.
// Keys and patterns are cache keys, without the layer prefix; patterns use
// pkg/cache/glob's syntax (`*`, `?`, `\` escapes; no character classes).
// SCAN patterns escape the prefixes, so glob characters in them match
// literally.
//
// invalidate takes one of --tag (through the Redis tag index, redistags,
// at --tag-index-prefix), --key-prefix, --pattern or --key. It deletes in
// batches of 500 (UNLINK), publishes each batch as a delete on the
// invalidation bus (redisbus, --bus-channel, signed with --bus-secret-file)
// — a --key-prefix invalidation publishes one clear of the prefix instead,
// which also reaches local copies Redis no longer holds — and untracks the
// keys from the tag index. Without --force it deletes nothing, prints what
// it would delete and exits 1 when more than --max-without-force (1,000)
// keys match or the pattern matches every key; --dry-run only lists.
//
// Exit status: 0 on success (inspect of a missing key included: it says
// exists false), 1 when the command failed or refused to run (an
// invalidation needing --force, a plaintext URL with --require-tls), 2 for
// invalid usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis logs connection retries through a process-wide logger; the
	// command reports the errors that matter itself, masked.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// quietLogger discards go-redis's log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
