package rediscache_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/rediscache"
)

// TestRedisDownAndBack stops the server under a layer: every operation must
// return an error (not panic, not hang), and the layer must work again once
// the server is back.
func TestRedisDownAndBack(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.NewClient(t, func(o *redis.Options) { o.MaxRetries, o.DialerRetries = -1, 1 }) // fail fast
	l, err := rediscache.New(rediscache.Options{Client: client, Prefix: "fault:"})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, l, "k", entry("before"))

	srv.Stop(t)
	ops := map[string]func(context.Context) error{
		"Ping": l.Ping,
		"Get": func(ctx context.Context) error {
			_, _, err := l.Get(ctx, "k")
			return err
		},
		"GetMany": func(ctx context.Context) error {
			_, _, err := l.GetMany(ctx, []string{"k", "j"})
			return err
		},
		"Set":        func(ctx context.Context) error { return l.Set(ctx, "k", entry("v")) },
		"SetMany":    func(ctx context.Context) error { return l.SetMany(ctx, []cache.Item{{Key: "k", Entry: entry("v")}}) },
		"Delete":     func(ctx context.Context) error { return l.Delete(ctx, "k") },
		"DeleteMany": func(ctx context.Context) error { return l.DeleteMany(ctx, []string{"k", "j"}) },
		"Scan":       func(ctx context.Context) error { return l.Scan(ctx, "", func(string) bool { return true }) },
		"Clear":      l.Clear,
	}
	for name, op := range ops {
		if err := op(ctx(t)); err == nil {
			t.Errorf("%s with Redis stopped = nil, want an error", name)
		}
	}

	srv.Restart(t)
	if err := l.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping after Restart: %v", err)
	}
	mustSet(t, l, "k", entry("after"))
	if e, ok, err := l.Get(ctx(t), "k"); err != nil || !ok || string(e.Payload) != "after" {
		t.Errorf("Get after Restart = %q, %v, %v; want after", e.Payload, ok, err)
	}
	for name, op := range ops {
		if err := op(ctx(t)); err != nil {
			t.Errorf("%s after Restart: %v", name, err)
		}
	}
}
