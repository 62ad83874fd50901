package cache_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/codec"
	"github.com/layercache/layercache/pkg/cache/memory"
)

// BenchmarkL1Hit measures Get through the typed API when the key is in the
// memory layer. Compare with BenchmarkOtterGet, run in the same process.
func BenchmarkL1Hit(b *testing.B) {
	s := newStack(b, cache.Options{TTL: time.Hour})
	v := cache.Typed[user](s)
	ctx := context.Background()
	if err := v.Set(ctx, "user:1", user{ID: 1, Name: "Ada"}); err != nil {
		b.Fatal(err)
	}
	fetch := func(context.Context) (user, error) { return user{}, nil }
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Get(ctx, "user:1", fetch); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOtterGet is the baseline: a raw otter v2 cache with the same
// bound, per-entry expiry and coarse clock as the memory layer, read with
// GetIfPresent.
func BenchmarkOtterGet(b *testing.B) {
	clock := otter.NewCoarseClock(time.Millisecond)
	defer clock.Stop()
	c, err := otter.New(&otter.Options[string, user]{
		MaximumSize:      10_000,
		ExpiryCalculator: otter.ExpiryWriting[string, user](time.Hour),
		Clock:            clock,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.StopAllGoroutines()
	c.Set("user:1", user{ID: 1, Name: "Ada"})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.GetIfPresent("user:1"); !ok {
				b.Fatal("miss")
			}
		}
	})
}

// BenchmarkMissFetch measures a cold miss resolved by a fetcher (single
// flight, encode-free memory store).
func BenchmarkMissFetch(b *testing.B) {
	s := newStack(b, cache.Options{TTL: time.Hour})
	v := cache.Typed[int](s)
	ctx := context.Background()
	fetch := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := s.Delete(ctx, "k"); err != nil {
			b.Fatal(err)
		}
		if _, err := v.Get(ctx, "k", fetch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkL2Hit measures Get when the memory layer misses and Redis hits
// (real loopback redis-server): the Redis round trip, decoding, and the
// backfill into memory. The keys cycle through 20,000 entries that were
// written to Redis only, and the memory layer holds 100, so nearly every Get
// misses L1. Compare with BenchmarkRedisRawGet at the same -cpu.
func BenchmarkL2Hit(b *testing.B) {
	for _, c := range []codec.Codec{codec.JSON{}, codec.MessagePack{}} {
		b.Run(c.Name(), func(b *testing.B) { benchmarkL2Hit(b, c) })
	}
}

const l2Keys = 20_000

func benchmarkL2Hit(b *testing.B, c codec.Codec) {
	ctx := context.Background()
	srv := redistest.Shared(b)
	client, prefix := srv.NewClient(b), redistest.Prefix(b)
	// Fill Redis through a Redis-only stack with the same codec and prefix.
	filler := newStack(b, cache.Options{TTL: time.Hour, Codec: c}, newRedisLayer(b, client, prefix))
	items := make([]cache.KeyValue[user], l2Keys)
	for i := range items {
		items[i] = cache.KeyValue[user]{Key: "l2:" + strconv.Itoa(i), Value: user{ID: i, Name: strings.Repeat("x", 200)}}
	}
	if err := cache.Typed[user](filler).SetMany(ctx, items); err != nil {
		b.Fatal(err)
	}
	mem, err := memory.New(memory.Options{MaxEntries: 100})
	if err != nil {
		b.Fatal(err)
	}
	s := newStack(b, cache.Options{TTL: time.Hour, Codec: c}, mem, newRedisLayer(b, client, prefix))
	v := cache.Typed[user](s)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := items[next.Add(7919)%l2Keys].Key // a prime stride: every key, scattered
			if _, err := v.Get(ctx, key, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(st.Layers[1].Hits)/float64(st.Hits), "l2-share")
}

// BenchmarkRedisRawGet is the L2 baseline: a go-redis GET of the same
// stored bytes, on the same server and client settings.
func BenchmarkRedisRawGet(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Shared(b)
	client, prefix := srv.NewClient(b), redistest.Prefix(b)
	s := newStack(b, cache.Options{TTL: time.Hour}, newRedisLayer(b, client, prefix))
	v := cache.Typed[user](s)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		key := "raw:" + strconv.FormatInt(next.Add(1), 10)
		if err := v.Set(ctx, key, user{ID: 1, Name: strings.Repeat("x", 200)}); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if _, err := client.Get(ctx, prefix+key).Bytes(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRedisOnlyHit measures Get on a Stack whose only layer is Redis:
// the L2 read path without the memory layer's delete and backfill.
func BenchmarkRedisOnlyHit(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Shared(b)
	client, prefix := srv.NewClient(b), redistest.Prefix(b)
	s := newStack(b, cache.Options{TTL: time.Hour}, newRedisLayer(b, client, prefix))
	v := cache.Typed[user](s)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		key := "only:" + strconv.FormatInt(next.Add(1), 10)
		if err := v.Set(ctx, key, user{ID: 1, Name: strings.Repeat("x", 200)}); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if _, err := v.Get(ctx, key, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
