package rediscache

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Scan calls fn with every stored key that starts with prefix, without the
// layer's Options.Prefix, until fn returns false. It runs SCAN with a MATCH
// pattern in which glob metacharacters of the prefixes are escaped, so they
// match literally; on a Cluster it scans every master, on a Ring every
// shard, one after another. fn is never called concurrently and may call the
// layer's other methods. As with SCAN, a key may be reported more than once
// and keys written during the scan may be missed. With an empty
// Options.Prefix, Scan("") reports every key in the database.
func (l *Layer) Scan(ctx context.Context, prefix string, fn func(key string) bool) error {
	err := l.scan(ctx, l.prefix+prefix, func(keys []string) bool {
		for _, k := range keys {
			if !fn(k[len(l.prefix):]) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("redis layer: scan %q: %w", prefix, err)
	}
	return nil
}

// Clear deletes every key under Options.Prefix: it scans them as Scan does
// and deletes them with UNLINK in pipelines of at most Options.DeleteBatch
// keys. It never uses FLUSHDB or FLUSHALL. With an empty Options.Prefix it
// deletes nothing and returns an error wrapping ErrNoPrefix. Keys written
// while Clear runs may survive it.
func (l *Layer) Clear(ctx context.Context) error {
	if l.prefix == "" {
		return ErrNoPrefix
	}
	var delErr error
	err := l.scan(ctx, l.prefix, func(keys []string) bool {
		delErr = batches(keys, l.deleteBatch, func(_ int, batch []string) error {
			return l.unlink(ctx, batch)
		})
		return delErr == nil
	})
	if err == nil {
		err = delErr
	}
	if err != nil {
		return fmt.Errorf("redis layer: clear: %w", err)
	}
	return nil
}

// scan runs SCAN MATCH <escaped prefix>* on every node and hands each
// non-empty page of full Redis keys to page, until page returns false.
func (l *Layer) scan(ctx context.Context, prefix string, page func(keys []string) bool) error {
	nodes, err := l.nodes(ctx)
	if err != nil {
		return err
	}
	match := escapeGlob(prefix) + "*"
	for _, node := range nodes {
		var cursor uint64
		for {
			var keys []string
			keys, cursor, err = node.Scan(ctx, cursor, match, l.scanCount).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 && !page(keys) {
				return nil
			}
			if cursor == 0 {
				break
			}
		}
	}
	return nil
}

// nodes returns what SCAN must run on: every master of a Cluster, every
// shard of a Ring, or the client itself.
func (l *Layer) nodes(ctx context.Context) ([]redis.Cmdable, error) {
	var (
		mu    sync.Mutex // ForEachMaster and ForEachShard call fn concurrently
		nodes []redis.Cmdable
	)
	collect := func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		nodes = append(nodes, c)
		return nil
	}
	var err error
	switch c := l.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, collect)
	case *redis.Ring:
		err = c.ForEachShard(ctx, collect)
		// ForEachShard skips the shards the ring's heartbeat marks down:
		// a Clear would leave their keys, to be served again when they
		// come back. go-redis lists only live shards, so count them against
		// the shards the ring was created with (RingOptions.Addrs).
		if want := len(c.Options().Addrs); err == nil && len(nodes) < want {
			err = fmt.Errorf("%d of the ring's %d shards are down: %w", want-len(nodes), want, ErrShardsDown)
		}
	default:
		return []redis.Cmdable{l.client}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return nodes, nil
}

// escapeGlob escapes the characters Redis's glob matcher treats specially,
// so that s matches only itself.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
