package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// memoryLibraries are the libraries that run as an in-process cache.
func memoryLibraries() []Library {
	var out []Library
	for _, l := range Libraries() {
		if l.Memory {
			out = append(out, l)
		}
	}
	return out
}

// BenchmarkL1Hit reads one hot key that every cache holds in memory, from
// GOMAXPROCS goroutines.
func BenchmarkL1Hit(b *testing.B) {
	for _, lib := range memoryLibraries() {
		b.Run(lib.Name, func(b *testing.B) {
			o := &origin{}
			c := build(b, lib, Config{Capacity: capacity, Load: o.load})
			settle(b, c, o, "hot")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Get(ctx, "hot"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkL2Hit reads keys that Redis holds and memory almost never does
// (16 entries of memory, 10,000 keys walked in turn): each read is a memory
// miss, a Redis GET, a decode and a backfill into memory. The keys were
// written by another instance of the same library. go-redis is the raw
// client GET, the floor. loads/op should be 0: nothing reaches the origin.
func BenchmarkL2Hit(b *testing.B) {
	names := keyNames()[:l2Keys]
	for _, lib := range Libraries() {
		if !lib.Layered && !lib.RedisOnly {
			continue
		}
		b.Run(lib.Name, func(b *testing.B) {
			client := newRedis(b)
			o := &origin{}
			cfg := Config{Capacity: l2Capacity, Load: o.load, Redis: client}
			writer := build(b, lib, cfg)
			ctx := context.Background()
			for _, k := range names {
				if err := writer.Set(ctx, k, payload); err != nil {
					b.Fatal(err)
				}
			}
			c := build(b, lib, cfg) // its memory is empty
			var goroutines atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// Goroutines start far apart, so they do not warm each
				// other's keys.
				i := int(goroutines.Add(1)) * l2Keys / (runtime.GOMAXPROCS(0) + 1)
				for pb.Next() {
					if _, err := c.Get(ctx, names[i%l2Keys]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.ReportMetric(float64(o.calls.Load())/float64(b.N), "loads/op")
		})
	}
}

// BenchmarkZipfMixed replays the Zipf trace (s=1.01, 100,000 keys) against
// 10,000 entries of memory from GOMAXPROCS goroutines: 90% reads through
// the loader, whose origin takes 50µs (time.Sleep), 10% writes. The caches
// are warmed with the first 200,000 requests (with an instant origin). loads/op is the share of
// requests that reached the origin.
func BenchmarkZipfMixed(b *testing.B) {
	ops, names := zipfTrace(), keyNames()
	for _, lib := range memoryLibraries() {
		b.Run(lib.Name, func(b *testing.B) {
			o := &origin{} // no delay while warming
			c := build(b, lib, Config{Capacity: capacity, Load: o.load})
			ctx := context.Background()
			const warm = 200_000
			for _, r := range ops[:warm] {
				if _, err := c.Get(ctx, names[r.key]); err != nil {
					b.Fatal(err)
				}
			}
			o.calls.Store(0)
			o.delay = originDelay // before the goroutines start: no race
			var goroutines atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := warm + int(goroutines.Add(1))*len(ops)/(runtime.GOMAXPROCS(0)+1)
				for pb.Next() {
					r := ops[i%len(ops)]
					i++
					var err error
					if r.write {
						err = c.Set(ctx, names[r.key], payload)
					} else {
						_, err = c.Get(ctx, names[r.key])
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(o.calls.Load())/float64(b.N), "loads/op")
		})
	}
}

// BenchmarkStampede releases 1,000 goroutines at once on one cold key
// whose origin takes 1ms; fetches/op is how many of them reached the
// origin (1 is perfect de-duplication).
func BenchmarkStampede(b *testing.B) {
	for _, lib := range memoryLibraries() {
		b.Run(lib.Name, func(b *testing.B) {
			o := &origin{delay: stampedeDelay}
			c := build(b, lib, Config{Capacity: capacity, Load: o.load})
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				key := fmt.Sprintf("cold:%d", i)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for range stampedeGoroutines {
					wg.Go(func() {
						<-start
						if _, err := c.Get(ctx, key); err != nil {
							b.Error(err)
						}
					})
				}
				close(start)
				wg.Wait()
			}
			b.ReportMetric(float64(o.calls.Load())/float64(b.N), "fetches/op")
		})
	}
}

// BenchmarkHitRatio replays the 1,000,000-request Zipf trace (s=1.01,
// 100,000 keys) through the loader of a new 10,000-entry cache, from one
// goroutine, and reports the share of requests served without the origin.
// ns/op is per replay of the whole trace.
func BenchmarkHitRatio(b *testing.B) {
	ops, names := zipfTrace(), keyNames()
	for _, lib := range memoryLibraries() {
		b.Run(lib.Name, func(b *testing.B) {
			ctx := context.Background()
			var ratio float64
			for range b.N {
				b.StopTimer()
				o := &origin{}
				c, err := lib.New(Config{Capacity: capacity, TTL: ttl, Load: o.load})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for _, r := range ops {
					if _, err := c.Get(ctx, names[r.key]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				ratio = 1 - float64(o.calls.Load())/float64(len(ops))
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(ratio*100, "hit%")
		})
	}
}
