package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache/glob"
)

// Batch sizes: SCAN's COUNT hint, and the most commands of one kind sent in
// one pipeline (UNLINK, GET, PTTL).
const (
	scanCount = 500
	batchSize = 500
)

// defaultLimit caps how many keys stats, keys and a dry run look at.
const defaultLimit = 100_000

// selection picks cache keys of the layer: those starting with a literal
// prefix, optionally filtered by a glob pattern.
type selection struct {
	layerPrefix string
	keyPrefix   string        // literal prefix of the cache keys scanned
	pattern     *glob.Pattern // nil: every key under keyPrefix
}

// newSelection selects the cache keys matching p (nil for all) under the
// layer prefix.
func newSelection(layerPrefix string, p *glob.Pattern) selection {
	s := selection{layerPrefix: layerPrefix, pattern: p}
	if p != nil {
		s.keyPrefix = p.Prefix()
	}
	return s
}

// scan calls page with the cache keys (layer prefix stripped) that s
// selects, one SCAN page at a time, until page returns false or an error.
// It runs SCAN MATCH <escaped prefix>* with COUNT 500 on every master of a
// Cluster (one after another), so glob characters in the prefixes match
// literally. As with SCAN, a key may be reported twice and keys written
// during the scan may be missed.
func (s selection) scan(ctx context.Context, client redis.UniversalClient, page func(keys []string) (bool, error)) error {
	nodes, err := scanNodes(ctx, client)
	if err != nil {
		return err
	}
	match := escapeGlob(s.layerPrefix+s.keyPrefix) + "*"
	n := len(s.layerPrefix)
	for _, node := range nodes {
		var cursor uint64
		for {
			var raw []string
			raw, cursor, err = node.Scan(ctx, cursor, match, scanCount).Result()
			if err != nil {
				return fmt.Errorf("scan %q: %w", match, err)
			}
			keys := raw[:0]
			for _, k := range raw {
				// SCAN MATCH already checked the prefix; checking again
				// costs nothing and guards the slicing below.
				if !strings.HasPrefix(k, s.layerPrefix) {
					continue
				}
				if k = k[n:]; s.pattern == nil || s.pattern.Match(k) {
					keys = append(keys, k)
				}
			}
			if len(keys) > 0 {
				more, err := page(keys)
				if err != nil || !more {
					return err
				}
			}
			if cursor == 0 {
				break
			}
		}
	}
	return nil
}

// scanNodes returns what SCAN must run on: every master of a Cluster, or the
// client itself.
func scanNodes(ctx context.Context, client redis.UniversalClient) ([]redis.Cmdable, error) {
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		return []redis.Cmdable{client}, nil
	}
	var (
		mu    sync.Mutex // ForEachMaster calls fn concurrently
		nodes []redis.Cmdable
	)
	err := cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		nodes = append(nodes, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list cluster masters: %w", err)
	}
	return nodes, nil
}

// escapeGlob escapes the characters Redis's glob matcher treats specially,
// so that s matches only itself.
func escapeGlob(s string) string {
	var b strings.Builder
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

// chunks calls fn with consecutive sub-slices of s of at most n elements,
// stopping at the first error.
func chunks(s []string, n int, fn func(batch []string) error) error {
	for off := 0; off < len(s); off += n {
		if err := fn(s[off:min(off+n, len(s))]); err != nil {
			return err
		}
	}
	return nil
}

// pipelined runs the commands fill queues in one pipeline. Each command's
// own error is left for the caller to read; only a failure of the pipeline
// as a whole (connection, context) is returned.
func pipelined(ctx context.Context, client redis.UniversalClient, fill func(p redis.Pipeliner)) error {
	p := client.Pipeline()
	fill(p)
	cmds, err := p.Exec(ctx)
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	// Exec reports the first failed command; a command-level reply (a
	// missing key, WRONGTYPE) is the caller's to interpret, a connection
	// error is everyone's.
	for _, c := range cmds {
		if cerr := c.Err(); cerr != nil && !errors.Is(cerr, redis.Nil) && !isReply(cerr) {
			return cerr
		}
	}
	return nil
}

// isWrongType reports a WRONGTYPE reply: the key holds a hash, list or
// other non-string, so the Redis layer did not write it.
func isWrongType(err error) bool {
	return isReply(err) && strings.HasPrefix(err.Error(), "WRONGTYPE")
}

// isReply reports an error reply from the server (such as WRONGTYPE), as
// opposed to a transport failure.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}
