package cache_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/codec"
	"github.com/layercache/layercache/pkg/cache/memory"
)

// BenchmarkL2Hit measures an L2 hit (memory misses, real loopback Redis
// hits) against a raw go-redis GET of the same stored bytes on the same
// client, in alternating blocks of l2Block reads across all goroutines:
// every goroutine reads through the Stack, then every goroutine reads raw,
// and so on. Runs made one after the other drift on a shared VM by more than
// the difference being measured; alternating blocks cancel the drift, while
// every block still runs one kind of read at the benchmark's concurrency (an
// earlier version alternated single reads, which let the Stack's background
// work land on raw reads and understated it at -cpu 2).
//
// The keys cycle through 20,000 entries written to Redis only, and the
// memory layer holds 100, so nearly every Get misses L1, reads Redis,
// decodes and backfills memory (l2-share is the share of hits served by
// Redis). ns/op is the mean of all reads; l2-ns and raw-ns are the mean
// time of each kind, and l2/raw their ratio.
//
// Three more stacks split the cost: json-redis-only has no memory layer
// (the read and the decoding, no backfill), and json-map-l1 backfills into
// mapLayer instead of the memory layer (a backfill that costs next to
// nothing), so the difference to json is the memory layer's insert.
//
// Two cases have no Stack and set a floor: by-hand does by hand what an L2
// hit cannot do without (the Redis layer's Get, decoding with the codec, an
// insert into the same memory layer), so the difference to json is all the
// Stack adds; by-hand-otter inserts into a raw otter cache with otter's
// defaults instead (its own maintenance executor), the store the memory
// layer wraps.
func BenchmarkL2Hit(b *testing.B) {
	stack := func(l1 func(*testing.B) cache.Layer) l2Reader {
		return func(b *testing.B, c codec.Codec, l2 cache.Layer) (func(context.Context, string) error, *cache.Stack) {
			layers := []cache.Layer{l2}
			if l1 != nil {
				layers = append([]cache.Layer{l1(b)}, layers...)
			}
			s := newStack(b, cache.Options{TTL: time.Hour, Codec: c}, layers...)
			v := cache.Typed[user](s)
			return func(ctx context.Context, key string) error { _, err := v.Get(ctx, key, nil); return err }, s
		}
	}
	for _, bc := range []struct {
		name   string
		codec  codec.Codec
		reader l2Reader
	}{
		{"json", codec.JSON{}, stack(l2Memory)},
		{"msgpack", codec.MessagePack{}, stack(l2Memory)},
		{"json-redis-only", codec.JSON{}, stack(nil)},
		{"json-map-l1", codec.JSON{}, stack(func(*testing.B) cache.Layer { return &mapLayer{} })},
		{"json-by-hand", codec.JSON{}, byHand(memoryInsert)},
		{"json-by-hand-otter", codec.JSON{}, byHand(otterInsert)},
	} {
		b.Run(bc.name, func(b *testing.B) { benchmarkL2Hit(b, bc.codec, bc.reader) })
	}
}

// l2Reader builds the L2 read that BenchmarkL2Hit compares with a raw GET,
// over l2 (a Redis layer holding every key), and the Stack it reads through
// (nil if none).
type l2Reader func(b *testing.B, c codec.Codec, l2 cache.Layer) (read func(ctx context.Context, key string) error, s *cache.Stack)

// byHand returns the reader of the by-hand cases: the Redis layer's Get,
// decoding the payload with the codec, and insert, with no Stack.
func byHand(newInsert func(*testing.B) func(ctx context.Context, key string, e cache.Entry, u user) error) l2Reader {
	return func(b *testing.B, c codec.Codec, l2 cache.Layer) (func(context.Context, string) error, *cache.Stack) {
		insert := newInsert(b)
		return func(ctx context.Context, key string) error {
			e, found, err := l2.Get(ctx, key)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("by hand: %q is not in Redis", key)
			}
			var u user
			if err := c.Unmarshal(e.Payload, &u); err != nil {
				return err
			}
			return insert(ctx, key, e, u)
		}, nil
	}
}

// memoryInsert stores the decoded value in a memory layer bounded like
// l2Memory, as the Stack's backfill does.
func memoryInsert(b *testing.B) func(context.Context, string, cache.Entry, user) error {
	mem := l2Memory(b)
	b.Cleanup(func() { _ = mem.Close() })
	return func(ctx context.Context, key string, e cache.Entry, u user) error {
		e.Value, e.Payload = u, nil
		return mem.Set(ctx, key, e)
	}
}

// otterInsert stores the decoded value in a raw otter cache with l2Memory's
// bound, per-entry expiry and a coarse clock, and otter's own executor.
func otterInsert(b *testing.B) func(context.Context, string, cache.Entry, user) error {
	mem := rawOtter[user](b, 100)
	return func(_ context.Context, key string, _ cache.Entry, u user) error {
		mem.Set(key, u)
		return nil
	}
}

// l2Block is how many reads (counted across goroutines) a block of one kind
// holds in BenchmarkL2Hit.
const l2Block = 500

const l2Keys = 20_000

// l2Memory is the memory layer of the L2 benchmarks: 100 entries for 20,000
// keys, so nearly every read misses it and every backfill evicts.
func l2Memory(b *testing.B) cache.Layer {
	mem, err := memory.New(memory.Options{MaxEntries: 100})
	if err != nil {
		b.Fatal(err)
	}
	return mem
}

func benchmarkL2Hit(b *testing.B, c codec.Codec, reader l2Reader) {
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
	read, s := reader(b, c, newRedisLayer(b, client, prefix))
	var next, l2Total, rawTotal, l2Reads, rawReads atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var l2, raw, nl2, nraw int64
		defer func() { l2Total.Add(l2); rawTotal.Add(raw); l2Reads.Add(nl2); rawReads.Add(nraw) }()
		for pb.Next() {
			i := next.Add(1)
			key := items[(i*7919)%l2Keys].Key // a prime stride: every key, scattered
			var err error
			t := time.Now()
			if (i/l2Block)%2 == 0 {
				err = read(ctx, key)
				l2 += int64(time.Since(t))
				nl2++
			} else {
				_, err = client.Get(ctx, prefix+key).Bytes()
				raw += int64(time.Since(t))
				nraw++
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if s != nil {
		st := s.Stats()
		b.ReportMetric(float64(st.Layers[len(st.Layers)-1].Hits)/float64(st.Hits), "l2-share")
	}
	if nl2, nraw := l2Reads.Load(), rawReads.Load(); nl2 > 0 && nraw > 0 {
		l2, raw := float64(l2Total.Load())/float64(nl2), float64(rawTotal.Load())/float64(nraw)
		b.ReportMetric(l2, "l2-ns")
		b.ReportMetric(raw, "raw-ns")
		b.ReportMetric(l2/raw, "l2/raw")
	}
}

// payloadLayer is a read-only, shared, byte-storing layer that serves
// entries encoded in advance from a map, with no I/O: behind a memory layer
// it makes the Stack's own work on an L2 hit (lookups, decoding, the fence,
// the backfill) measurable without the network's noise.
type payloadLayer struct {
	entries map[string]cache.Entry
}

func (p *payloadLayer) Info() cache.LayerInfo {
	return cache.LayerInfo{Name: "payload", Shared: true}
}

func (p *payloadLayer) Get(_ context.Context, key string) (cache.Entry, bool, error) {
	e, ok := p.entries[key]
	return e, ok, nil
}

func (p *payloadLayer) GetMany(ctx context.Context, keys []string) ([]cache.Entry, []bool, error) {
	entries, found := make([]cache.Entry, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		entries[i], found[i], _ = p.Get(ctx, k)
	}
	return entries, found, nil
}

func (*payloadLayer) Set(context.Context, string, cache.Entry) error { return nil }
func (*payloadLayer) SetMany(context.Context, []cache.Item) error    { return nil }
func (*payloadLayer) Delete(context.Context, string) error           { return nil }
func (*payloadLayer) DeleteMany(context.Context, []string) error     { return nil }
func (*payloadLayer) Scan(context.Context, string, func(string) bool) error {
	return nil
}
func (*payloadLayer) Clear(context.Context) error { return nil }
func (*payloadLayer) Ping(context.Context) error  { return nil }
func (*payloadLayer) Close() error                { return nil }

// BenchmarkL2Overhead measures the Stack's CPU cost of an L2 hit: the
// workload of BenchmarkL2Hit (20,000 keys behind a memory layer of 100, so
// every Get misses L1, decodes and backfills) over an L2 that answers from
// a map. ns/op here is what an L2 hit adds to the L2 round trip.
func BenchmarkL2Overhead(b *testing.B) {
	for _, c := range []codec.Codec{codec.JSON{}, codec.MessagePack{}} {
		b.Run(c.Name(), func(b *testing.B) {
			l2 := &payloadLayer{entries: make(map[string]cache.Entry, l2Keys)}
			keys := make([]string, l2Keys)
			for i := range keys {
				keys[i] = "l2:" + strconv.Itoa(i)
				p, err := c.Marshal(user{ID: i, Name: strings.Repeat("x", 200)})
				if err != nil {
					b.Fatal(err)
				}
				l2.entries[keys[i]] = cache.Entry{Payload: p, FreshUntil: time.Now().Add(time.Hour).UnixNano()}
			}
			s := newStack(b, cache.Options{TTL: time.Hour, Codec: c}, l2Memory(b), l2)
			v := cache.Typed[user](s)
			ctx := context.Background()
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Get(ctx, keys[next.Add(7919)%l2Keys], nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			st := s.Stats()
			b.ReportMetric(float64(st.Layers[1].Hits)/float64(st.Hits), "l2-share")
		})
	}
}

// mapLayer is a byte-free, per-process layer over a sync.Map that drops
// everything every 100 writes: a memory layer whose insert costs next to
// nothing, for BenchmarkL2Hit to tell the backfill's cost apart.
type mapLayer struct {
	m      sync.Map // key → *cache.Entry
	writes atomic.Int64
}

func (m *mapLayer) Info() cache.LayerInfo { return cache.LayerInfo{Name: "map", Values: true} }

func (m *mapLayer) Get(_ context.Context, key string) (cache.Entry, bool, error) {
	v, ok := m.m.Load(key)
	if !ok {
		return cache.Entry{}, false, nil
	}
	e, ok := v.(*cache.Entry)
	if !ok {
		return cache.Entry{}, false, fmt.Errorf("map layer: %q holds a %T", key, v)
	}
	return *e, true, nil
}

func (m *mapLayer) GetMany(ctx context.Context, keys []string) ([]cache.Entry, []bool, error) {
	entries, found := make([]cache.Entry, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		entries[i], found[i], _ = m.Get(ctx, k)
	}
	return entries, found, nil
}

func (m *mapLayer) Set(_ context.Context, key string, e cache.Entry) error {
	if m.writes.Add(1)%100 == 0 {
		m.m.Clear()
	}
	m.m.Store(key, &e)
	return nil
}

func (m *mapLayer) SetMany(ctx context.Context, items []cache.Item) error {
	for _, it := range items {
		_ = m.Set(ctx, it.Key, it.Entry)
	}
	return nil
}

func (m *mapLayer) Delete(_ context.Context, key string) error {
	m.m.Delete(key)
	return nil
}

func (m *mapLayer) DeleteMany(_ context.Context, keys []string) error {
	for _, k := range keys {
		m.m.Delete(k)
	}
	return nil
}

func (m *mapLayer) Scan(context.Context, string, func(string) bool) error { return nil }
func (m *mapLayer) Clear(context.Context) error                           { m.m.Clear(); return nil }
func (m *mapLayer) Ping(context.Context) error                            { return nil }
func (m *mapLayer) Close() error                                          { return nil }

// BenchmarkRawGetAfterWork measures what BenchmarkL2Hit cannot tell apart:
// whether CPU work between two GETs, outside the timed read, makes the next
// round trip itself slower. Each goroutine alternates blocks of l2Block
// reads: raw GETs back to back, then raw GETs each preceded by a busy loop
// of work (untimed). l2/raw is after-work/back-to-back, timing the GET
// alone. A ratio above 1 is latency the machine adds to a round trip that
// follows work, which an L2 hit (read, decode, backfill, then the next
// read) pays and a raw GET loop does not.
func BenchmarkRawGetAfterWork(b *testing.B) {
	for _, work := range []time.Duration{0, time.Microsecond, 3 * time.Microsecond, 10 * time.Microsecond} {
		b.Run(work.String(), func(b *testing.B) {
			ctx := context.Background()
			srv := redistest.Shared(b)
			client, prefix := srv.NewClient(b), redistest.Prefix(b)
			if err := client.Set(ctx, prefix+"k", strings.Repeat("x", 220), time.Hour).Err(); err != nil {
				b.Fatal(err)
			}
			var next, afterTotal, plainTotal, afterReads, plainReads atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var after, plain, na, np int64
				defer func() { afterTotal.Add(after); plainTotal.Add(plain); afterReads.Add(na); plainReads.Add(np) }()
				for pb.Next() {
					i := next.Add(1)
					worked := (i/l2Block)%2 == 0
					if worked {
						busyFor(work)
					}
					t := time.Now()
					if err := client.Get(ctx, prefix+"k").Err(); err != nil {
						b.Error(err)
						return
					}
					if d := int64(time.Since(t)); worked {
						after, na = after+d, na+1
					} else {
						plain, np = plain+d, np+1
					}
				}
			})
			b.StopTimer()
			if na, np := afterReads.Load(), plainReads.Load(); na > 0 && np > 0 {
				a, p := float64(afterTotal.Load())/float64(na), float64(plainTotal.Load())/float64(np)
				b.ReportMetric(a, "after-ns")
				b.ReportMetric(p, "raw-ns")
				b.ReportMetric(a/p, "l2/raw")
			}
		})
	}
}

// busyFor keeps the calling goroutine on its CPU for d, and returns how
// many times it looked at the clock meanwhile.
func busyFor(d time.Duration) (spins int) {
	start := time.Now()
	for time.Since(start) < d {
		spins++
	}
	return spins
}
