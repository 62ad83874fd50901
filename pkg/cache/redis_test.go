package cache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/rediscache"
)

type memoryClock = memory.Clock

func newRedisLayer(t testing.TB, client redis.UniversalClient, prefix string) *rediscache.Layer {
	t.Helper()
	l, err := rediscache.New(rediscache.Options{Client: client, Prefix: prefix})
	if err != nil {
		t.Fatalf("rediscache.New: %v", err)
	}
	return l
}

// instance is one "process" of a service: its own memory layer in front of
// the shared Redis.
func instance(t *testing.T, client redis.UniversalClient, prefix string, opts cache.Options) (*cache.Stack, *cache.View[user]) {
	t.Helper()
	var clock memoryClock
	if opts.Clock != nil {
		clock = opts.Clock
	}
	s := newStack(t, opts, newMemory(t, "memory", clock), newRedisLayer(t, client, prefix))
	return s, cache.Typed[user](s)
}

func TestInstancesShareValuesThroughRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Shared(t)
	client, prefix := srv.NewClient(t), redistest.Prefix(t)
	a, av := instance(t, client, prefix, cache.Options{TTL: time.Hour})
	_, bv := instance(t, client, prefix, cache.Options{TTL: time.Hour})
	must(t, av.Set(ctx, "u", user{ID: 1, Name: "Ada"}, cache.Tags("users")))
	var calls atomic.Int32
	got, err := bv.Get(ctx, "u", counting(user{}, &calls))
	if err != nil || got.Name != "Ada" || calls.Load() != 0 {
		t.Fatalf("instance b Get = %+v, %v (fetches %d); want Ada from Redis without fetching", got, err, calls.Load())
	}
	if n, err := a.InvalidatePattern(ctx, "u*"); err != nil || n != 1 {
		t.Fatalf("InvalidatePattern = %d, %v", n, err)
	}
	if exists, _ := client.Exists(ctx, prefix+"u").Result(); exists != 0 {
		t.Fatal("the invalidation left the key in Redis")
	}
}

func TestRedisDownServesFromMemoryAndFetcherThenRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t) // its own server: this test stops it
	client := srv.NewClient(t, func(o *redis.Options) {
		o.MaxRetries = -1 // fail fast while the server is down
		o.DialTimeout = 200 * time.Millisecond
	})
	clock := cachetest.NewManualClock()
	clock.Set(time.Now()) // Redis expiry follows the real clock
	s, v := instance(t, client, "fault:", cache.Options{Clock: clock, TTL: time.Hour, DegradeFor: time.Minute})
	must(t, v.Set(ctx, "warm", user{ID: 1}))

	// Load runs throughout the outage: every Get must be answered (from
	// memory or the fetcher), none may fail or panic.
	stopLoad := make(chan struct{})
	var loadErrs, loadGets atomic.Int64
	var load sync.WaitGroup
	for w := range 4 {
		load.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopLoad:
					return
				default:
				}
				key := fmt.Sprintf("load:%d:%d", w, i%50)
				if _, err := v.Get(ctx, key, func(context.Context) (user, error) { return user{ID: i}, nil }); err != nil {
					loadErrs.Add(1)
				}
				loadGets.Add(1)
			}
		})
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		close(stopLoad)
		load.Wait()
		if n := loadErrs.Load(); n != 0 {
			t.Errorf("%d of %d Gets under load failed during the Redis outage", n, loadGets.Load())
		}
	}
	defer stop()

	srv.Stop(t)
	if got, err := v.Get(ctx, "warm", nil); err != nil || got.ID != 1 {
		t.Fatalf("with Redis down, an L1 hit = %+v, %v; want it served from memory", got, err)
	}
	got, err := v.Get(ctx, "cold", func(context.Context) (user, error) { return user{ID: 2}, nil })
	if err != nil || got.ID != 2 {
		t.Fatalf("with Redis down, a miss = %+v, %v; want the fetcher's value", got, err)
	}
	if d := s.DegradedLayers(); len(d) != 1 || d[0] != "redis" {
		t.Fatalf("DegradedLayers = %v, want [redis]", d)
	}
	st := s.Stats()
	if st.Degradations != 1 || st.LayerErrors == 0 {
		t.Fatalf("stats: degradations %d, layer errors %d; want 1 and > 0", st.Degradations, st.LayerErrors)
	}
	// While degraded, Redis is skipped: no further errors pile up.
	errorsBefore := st.LayerErrors
	for range 10 {
		if _, err := v.Get(ctx, "cold", nil); err != nil {
			t.Fatal(err)
		}
	}
	// Calls already in flight when the layer was marked degraded may still
	// fail (at most one read and one write per load worker); no new ones
	// start.
	if got := s.Stats().LayerErrors; got > errorsBefore+8 {
		t.Errorf("layer errors grew from %d to %d while Redis was degraded: it is still being called", errorsBefore, got)
	}
	// The load ends with the outage: a call it started while Redis was down
	// could otherwise fail after the restart and rightly degrade Redis again.
	stop()
	srv.Restart(t)
	clock.Advance(2 * time.Minute) // past DegradeFor: Redis is tried again
	must(t, v.Set(ctx, "after", user{ID: 3}))
	if n, _ := client.Exists(ctx, "fault:after").Result(); n != 1 {
		t.Fatal("after the restart and the degrade window, writes do not reach Redis")
	}
	if d := s.DegradedLayers(); len(d) != 0 {
		t.Fatalf("DegradedLayers after recovery = %v, want none", d)
	}
}

func TestRedisDownWithoutDegradationReportsLayerErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	client := srv.NewClient(t, func(o *redis.Options) { o.MaxRetries = -1; o.DialTimeout = 200 * time.Millisecond })
	_, v := instance(t, client, "strict:", cache.Options{})
	srv.Stop(t)
	err := v.Set(ctx, "k", user{})
	var le *cache.LayerError
	if !errors.As(err, &le) || le.Layer != "redis" {
		t.Fatalf("Set with Redis down (strict) = %v, want a *LayerError for redis", err)
	}
	_, be := instance(t, client, "besteffort:", cache.Options{WritePolicy: cache.WriteBestEffort})
	if err := be.Set(ctx, "k", user{}); err != nil {
		t.Fatalf("best-effort Set with one layer up = %v, want nil", err)
	}
}
