package rediscache_test

import (
	"context"
	"testing"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/compress"
	"github.com/layercache/layercache/pkg/cache/rediscache"
)

// The two benchmarks read the same stored bytes (a 1 KiB payload in its
// envelope) over the same kind of client, so their difference is the
// layer's overhead on an L2 hit: key prefixing, decoding and checks.

func BenchmarkGetHit(b *testing.B) {
	prefix := redistest.Prefix(b)
	l, _ := newLayer(b, rediscache.Options{Prefix: prefix})
	mustSet(b, l, "k", entry(text(1024), "tag"))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, err := l.Get(ctx, "k"); err != nil || !ok {
				b.Errorf("Get = %v, %v", ok, err)
				return
			}
		}
	})
}

func BenchmarkRawGoRedisGet(b *testing.B) {
	prefix := redistest.Prefix(b)
	l, client := newLayer(b, rediscache.Options{Prefix: prefix})
	mustSet(b, l, "k", entry(text(1024), "tag"))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.Get(ctx, prefix+"k").Bytes(); err != nil {
				b.Errorf("GET = %v", err)
				return
			}
		}
	})
}

// BenchmarkGetHitZstd is BenchmarkGetHit for an 8 KiB value stored with zstd.
func BenchmarkGetHitZstd(b *testing.B) {
	l, _ := newLayer(b, rediscache.Options{Compression: compress.Options{Algorithm: compress.Zstd}})
	mustSet(b, l, "k", entry(text(8<<10)))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, err := l.Get(ctx, "k"); err != nil || !ok {
				b.Errorf("Get = %v, %v", ok, err)
				return
			}
		}
	})
}

// BenchmarkSetMany measures a pipelined bulk write of 100 1 KiB entries.
func BenchmarkSetMany(b *testing.B) {
	l, _ := newLayer(b, rediscache.Options{})
	items := make([]cache.Item, 100)
	for i := range items {
		items[i] = cache.Item{Key: text(8) + string(rune('a'+i%26)) + string(rune('a'+i/26)), Entry: entry(text(1024))}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := l.SetMany(ctx, items); err != nil {
			b.Fatal(err)
		}
	}
}
