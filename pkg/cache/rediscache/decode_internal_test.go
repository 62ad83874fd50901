package rediscache

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache"
)

// BenchmarkDecodeHit is the CPU the layer adds to an L2 hit on top of the
// GET round trip: decoding a stored 1 KiB entry with one tag (marker check,
// CRC-32C, envelope parse). It needs no server.
func BenchmarkDecodeHit(b *testing.B) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	b.Cleanup(func() { _ = client.Close() })                       // nothing was opened
	l, err := New(Options{Client: client})
	if err != nil {
		b.Fatal(err)
	}
	e := cache.Entry{Payload: []byte(strings.Repeat("x", 1024)), Tags: []string{"tag"}, FreshUntil: time.Now().Add(time.Hour).UnixNano()}
	stored, err := l.encode(&e)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.decode(stored, nil); err != nil {
			b.Fatal(err)
		}
	}
}
