package bench

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// wait lets a cache with background writes apply them.
func wait(c Cache) {
	if w, ok := c.(Waiter); ok {
		w.Wait()
	}
}

// TestAdapters checks that every library, alone and with Redis behind it,
// returns what was stored, loads a missing key once and then serves it,
// and (with Redis) shares both with a second instance.
func TestAdapters(t *testing.T) {
	t.Parallel()
	for _, lib := range Libraries() {
		for _, layered := range []bool{false, true} {
			if (!layered && !lib.Memory) || (layered && !lib.Layered && !lib.RedisOnly) {
				continue
			}
			name := lib.Name + "/memory"
			if layered {
				name = lib.Name + "/redis"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				testAdapter(t, lib, layered)
			})
		}
	}
}

func testAdapter(t *testing.T, lib Library, layered bool) {
	ctx := context.Background()
	loaded := []byte("from the origin")
	o := &origin{}
	cfg := Config{Capacity: 100, Load: func(ctx context.Context, key string) ([]byte, error) {
		_, _ = o.load(ctx, key)
		return append([]byte(nil), loaded...), nil
	}}
	if layered {
		cfg.Redis, cfg.Prefix = newRedis(t), lib.Name+":"
	}
	c := build(t, lib, cfg)

	if err := c.Set(ctx, "stored", payload); err != nil {
		t.Fatal(err)
	}
	wait(c)
	if got, err := c.Get(ctx, "stored"); err != nil || !bytes.Equal(got, payload) {
		t.Errorf("Get(stored) = %q, %v; want %q", got, err, payload)
	}
	if got, err := c.Get(ctx, "missing"); err != nil || !bytes.Equal(got, loaded) {
		t.Errorf("Get(missing) = %q, %v; want the origin's %q", got, err, loaded)
	}
	wait(c)
	if got, err := c.Get(ctx, "missing"); err != nil || !bytes.Equal(got, loaded) {
		t.Errorf("second Get(missing) = %q, %v; want the origin's %q", got, err, loaded)
	}
	// gocache's LoadableCache stores a loaded value from a goroutine of its
	// own, which nothing can wait for: the second Get may race it and load
	// again. Every other library stores before Get returns.
	if n := o.calls.Load(); n != 1 && (lib.Name != "gocache" || n != 2) {
		t.Errorf("origin called %d times, want once (for the missing key)", n)
	}
	if !layered {
		return
	}
	// gocache stores loaded values from a goroutine: wait until Redis has
	// the key, then read both keys from a second instance, whose memory is
	// empty.
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for cfg.Redis.Exists(waitCtx, cfg.Prefix+"missing").Val() != 1 {
		select {
		case <-waitCtx.Done():
			t.Fatal("the loaded value never reached Redis")
		case <-tick.C:
		}
	}
	o2 := &origin{}
	cfg.Load = o2.load
	other := build(t, lib, cfg)
	for k, want := range map[string][]byte{"stored": payload, "missing": loaded} {
		if got, err := other.Get(ctx, k); err != nil || !bytes.Equal(got, want) || o2.calls.Load() != 0 {
			t.Errorf("second instance Get(%s) = %q, %v with %d loads; want %q from Redis", k, got, err, o2.calls.Load(), want)
		}
	}
}
