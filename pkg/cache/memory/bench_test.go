package memory

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/maypok86/otter/v2"
)

// The Get benchmarks read one hot key from a cache holding benchEntries
// entries, from every P at once. BenchmarkOtterRawGet and
// BenchmarkOtterPlainGet read the same key from bare otter caches: the first
// configured as the layer configures its store (entry bound plus the
// per-entry expiry calculator), the second with only the entry bound. The
// differences show the layer's own cost and the cost of per-entry expiry.

const (
	benchEntries = 1000
	benchKey     = "user:42"
)

func benchEntry() cache.Entry {
	return cache.Entry{
		Value:      "value",
		Tags:       []string{"users"},
		FreshUntil: time.Now().Add(time.Hour).UnixNano(),
	}
}

func BenchmarkGetHit(b *testing.B) {
	l := newLayer(b, Options{})
	ctx := context.Background()
	for i := range benchEntries {
		if err := l.Set(ctx, "user:"+strconv.Itoa(i), benchEntry()); err != nil {
			b.Fatalf("Set: %v", err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, _ := l.Get(ctx, benchKey); !ok {
				b.Error("Get missed")
				return
			}
		}
	})
}

func BenchmarkOtterRawGet(b *testing.B) {
	c := otter.Must(&otter.Options[string, *item]{
		MaximumSize:      DefaultMaxEntries,
		ExpiryCalculator: otter.ExpiryWritingFunc(expiresAfter),
	})
	b.Cleanup(func() { c.StopAllGoroutines() })
	benchOtterGet(b, c)
}

func BenchmarkOtterPlainGet(b *testing.B) {
	c := otter.Must(&otter.Options[string, *item]{MaximumSize: DefaultMaxEntries})
	benchOtterGet(b, c)
}

func benchOtterGet(b *testing.B, c *otter.Cache[string, *item]) {
	b.Helper()
	for i := range benchEntries {
		e := benchEntry()
		c.Set("user:"+strconv.Itoa(i), newItem(&e, 0))
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.GetIfPresent(benchKey); !ok {
				b.Error("GetIfPresent missed")
				return
			}
		}
	})
}

func BenchmarkSet(b *testing.B) {
	l := newLayer(b, Options{})
	ctx := context.Background()
	keys := make([]string, benchEntries)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	e := benchEntry()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := l.Set(ctx, keys[i%len(keys)], e); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
