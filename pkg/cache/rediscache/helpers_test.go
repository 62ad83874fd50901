package rediscache_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/rediscache"
)

// newLayer returns a layer on the shared server under a prefix of its own,
// with the client it uses. opts.Client and an empty opts.Prefix are filled in.
func newLayer(t testing.TB, opts rediscache.Options) (*rediscache.Layer, *redis.Client) {
	t.Helper()
	c := redistest.Shared(t).NewClient(t)
	if opts.Client == nil {
		opts.Client = c
	}
	if opts.Prefix == "" {
		opts.Prefix = redistest.Prefix(t)
	}
	l, err := rediscache.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l, c
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// entry is a fresh entry for an hour holding payload.
func entry(payload string, tags ...string) cache.Entry {
	fresh := time.Now().Add(time.Hour).UnixNano()
	return cache.Entry{Payload: []byte(payload), FreshUntil: fresh, StaleUntil: fresh + int64(time.Minute), Tags: tags}
}

// text returns n bytes of words in a pseudo-random order: compressible,
// but not so much that MaxRatio makes the layer store it raw.
func text(n int) string {
	words := strings.Fields("layered caches keep hot data close while redis shares it across every pod")
	r := rand.New(rand.NewPCG(uint64(n), 7))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()[:n]
}

func mustSet(t testing.TB, l *rediscache.Layer, key string, e cache.Entry) {
	t.Helper()
	if err := l.Set(ctx(t), key, e); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func exists(t testing.TB, c *redis.Client, redisKey string) bool {
	t.Helper()
	n, err := c.Exists(ctx(t), redisKey).Result()
	if err != nil {
		t.Fatalf("EXISTS %q: %v", redisKey, err)
	}
	return n == 1
}
