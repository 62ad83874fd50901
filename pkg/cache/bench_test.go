package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/layercache/layercache/pkg/cache"
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
	c := rawOtter[user](b, 10_000)
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

// rawOtter returns an otter v2 cache of size entries configured as the
// memory layer configures its store (per-entry expiry, a coarse clock), but
// with otter's own maintenance executor. The benchmark's cleanup stops it.
func rawOtter[V any](b *testing.B, size int) *otter.Cache[string, V] {
	clock := otter.NewCoarseClock(time.Millisecond)
	b.Cleanup(clock.Stop)
	c, err := otter.New(&otter.Options[string, V]{
		MaximumSize:      size,
		ExpiryCalculator: otter.ExpiryWriting[string, V](time.Hour),
		Clock:            clock,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.StopAllGoroutines() })
	return c
}

// callerContexts are the two kinds of caller of the miss benchmarks: one
// whose context cannot end (a fetch runs on the caller's goroutine) and one
// whose context can (a request's: the fetch runs on a goroutine of the
// flight's, so that the caller can leave while others wait).
func callerContexts() []struct {
	name string
	ctx  func(*testing.B) context.Context
} {
	return []struct {
		name string
		ctx  func(*testing.B) context.Context
	}{
		{"background", func(*testing.B) context.Context { return context.Background() }},
		{"request", func(b *testing.B) context.Context { return b.Context() }},
	}
}

// BenchmarkMissFetch measures a cold miss resolved by a fetcher (single
// flight, encode-free memory store), from a caller whose context cannot end
// (the fetch runs on the caller's goroutine) and from one whose context can
// (a request's: the fetch runs on a goroutine of the flight's, so that the
// caller can leave while others wait).
func BenchmarkMissFetch(b *testing.B) {
	for _, bc := range callerContexts() {
		b.Run(bc.name, func(b *testing.B) {
			s := newStack(b, cache.Options{TTL: time.Hour})
			v := cache.Typed[int](s)
			ctx := bc.ctx(b)
			fetch := func(context.Context) (int, error) { return 1, nil }
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Delete(ctx, "k"); err != nil {
					b.Fatal(err)
				}
				if _, err := v.Get(ctx, "k", fetch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetManyMissFetch measures GetMany of ten cold keys resolved by
// one call of a bulk fetcher (shared with concurrent callers through the
// single flight), from a caller whose context cannot end and from one whose
// context can, as BenchmarkMissFetch does for Get.
func BenchmarkGetManyMissFetch(b *testing.B) {
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}
	for _, bc := range callerContexts() {
		b.Run(bc.name, func(b *testing.B) {
			s := newStack(b, cache.Options{TTL: time.Hour})
			v := cache.Typed[int](s)
			ctx := bc.ctx(b)
			fetch := func(_ context.Context, keys []string) (map[string]int, error) {
				out := make(map[string]int, len(keys))
				for i, k := range keys {
					out[k] = i
				}
				return out, nil
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := s.DeleteMany(ctx, keys); err != nil {
					b.Fatal(err)
				}
				if got, err := v.GetMany(ctx, keys, fetch); err != nil || len(got) != len(keys) {
					b.Fatalf("GetMany = %d values, %v; want %d", len(got), err, len(keys))
				}
			}
		})
	}
}

// BenchmarkGetManyL1Hit measures GetMany of ten keys that are all in the
// memory layer, without and with a fresh-hit policy (AdaptiveTTL counts
// every hit in the key's profile).
func BenchmarkGetManyL1Hit(b *testing.B) {
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}
	for _, bc := range []struct {
		name string
		opts cache.Options
	}{
		{"plain", cache.Options{TTL: time.Hour}},
		{"adaptive", cache.Options{TTL: time.Hour, AdaptiveTTL: &cache.AdaptiveTTL{HotAfter: 3}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v := cache.Typed[int](newStack(b, bc.opts))
			ctx := context.Background()
			for i, k := range keys {
				if err := v.Set(ctx, k, i); err != nil {
					b.Fatal(err)
				}
			}
			fetch := func(context.Context, []string) (map[string]int, error) { return nil, nil }
			b.ReportAllocs()
			for b.Loop() {
				if got, err := v.GetMany(ctx, keys, fetch); err != nil || len(got) != len(keys) {
					b.Fatalf("GetMany = %d values, %v; want %d", len(got), err, len(keys))
				}
			}
		})
	}
}
