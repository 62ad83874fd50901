package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
// (16 entries of memory, 10,000 keys): each read is a memory miss, a Redis
// GET, a decode and a backfill into memory. The keys were written by another
// instance of the same library. loads/op should be 0: nothing reaches the
// origin.
//
// Runs made one after the other drift on a shared VM by more than the
// differences between libraries, so every library is measured against a
// raw go-redis GET of the very key (and bytes) it reads, on the same
// client: blocks of l2Block reads across all goroutines alternate between
// the library and the raw GET, and l2/raw is the ratio of their mean
// latencies. The go-redis row reads raw against raw: its l2/raw shows what
// the method itself reports for two equal reads.
func BenchmarkL2Hit(b *testing.B) {
	names := keyNames()[:l2Keys]
	for _, lib := range Libraries() {
		if !lib.Layered && !lib.RedisOnly {
			continue
		}
		b.Run(lib.Name, func(b *testing.B) {
			client := newRedis(b)
			o := &origin{}
			cfg := Config{Capacity: l2Capacity, Load: o.load, Redis: client, Prefix: lib.Name + ":"}
			writer := build(b, lib, cfg)
			ctx := context.Background()
			for _, k := range names {
				if err := writer.Set(ctx, k, payload); err != nil {
					b.Fatal(err)
				}
			}
			c := build(b, lib, cfg) // its memory is empty
			var next, libTotal, rawTotal, libReads, rawReads atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var lt, rt, ln, rn int64
				defer func() { libTotal.Add(lt); rawTotal.Add(rt); libReads.Add(ln); rawReads.Add(rn) }()
				for pb.Next() {
					i := next.Add(1)
					key := names[(i*7919)%l2Keys] // a prime stride: every key, scattered
					var err error
					start := time.Now()
					if (i/l2Block)%2 == 0 {
						_, err = c.Get(ctx, key)
						lt += int64(time.Since(start))
						ln++
					} else {
						_, err = client.Get(ctx, cfg.Prefix+key).Bytes()
						rt += int64(time.Since(start))
						rn++
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(o.calls.Load())/float64(b.N), "loads/op")
			if ln, rn := libReads.Load(), rawReads.Load(); ln > 0 && rn > 0 {
				l, r := float64(libTotal.Load())/float64(ln), float64(rawTotal.Load())/float64(rn)
				b.ReportMetric(l, "l2-ns")
				b.ReportMetric(r, "raw-ns")
				b.ReportMetric(l/r, "l2/raw")
			}
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
