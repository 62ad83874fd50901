package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Shapes of the workloads, the same for every library.
const (
	traceKeys   = 100_000   // distinct keys of the Zipf workloads
	traceLen    = 1_000_000 // requests of the hit-ratio trace
	capacity    = 10_000    // entries in memory for the Zipf workloads
	zipfS       = 1.01      // Zipf exponent
	writeShare  = 0.10      // share of writes in the mixed workload
	originDelay = 50 * time.Microsecond

	l2Keys     = 10_000 // keys walked by the L2-hit workload
	l2Capacity = 16     // memory entries in the L2-hit workload: almost every read misses it
	l2Block    = 500    // reads (across goroutines) of one kind in a row in the L2-hit workload

	stampedeGoroutines = 1000
	stampedeDelay      = time.Millisecond // origin latency while the herd waits

	ttl = time.Hour
)

// payload is the value of every key: 64 bytes, shared and never modified.
var payload = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

// keyNames returns the names of the workloads' keys, built once.
var keyNames = sync.OnceValue(func() []string {
	names := make([]string, traceKeys)
	for i := range names {
		names[i] = fmt.Sprintf("key:%06d", i)
	}
	return names
})

// op is one request of a trace.
type op struct {
	key   int32
	write bool
}

// zipfTrace returns the Zipf(s=1.01) trace over traceKeys keys, traceLen
// requests, 10% of them marked as writes, from fixed seeds: every library
// replays exactly the same requests.
var zipfTrace = sync.OnceValue(func() []op {
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, zipfS, 1, traceKeys-1)
	w := rand.New(rand.NewPCG(3, 4))
	ops := make([]op, traceLen)
	for i := range ops {
		ops[i] = op{key: int32(z.Uint64()), write: w.Float64() < writeShare}
	}
	return ops
})

// origin is a Loader that counts its calls and waits delay before
// answering payload.
type origin struct {
	calls atomic.Int64
	delay time.Duration
}

func (o *origin) load(context.Context, string) ([]byte, error) {
	o.calls.Add(1)
	if o.delay > 0 {
		time.Sleep(o.delay)
	}
	return payload, nil
}

// build makes lib's cache for c and closes it when tb ends.
func build(tb testing.TB, lib Library, c Config) Cache {
	tb.Helper()
	if c.TTL == 0 {
		c.TTL = ttl
	}
	if c.Redis != nil && c.Prefix == "" {
		c.Prefix = lib.Name + ":"
	}
	cc, err := lib.New(c)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := cc.Close(); err != nil {
			tb.Errorf("%s: close: %v", lib.Name, err)
		}
	})
	return cc
}

// settle reads key until a read no longer reaches the origin: libraries
// that store loaded values in the background (ristretto, gocache) need a
// moment. It polls every millisecond for at most a second.
func settle(tb testing.TB, c Cache, o *origin, key string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		before := o.calls.Load()
		if _, err := c.Get(ctx, key); err != nil {
			tb.Fatal(err)
		}
		if o.calls.Load() == before {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("%q is never served from the cache", key)
		case <-tick.C:
		}
	}
}
