package layerstats

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
)

// Op is a kind of layer operation, one per method of cache.Layer that does
// work (Info and Close are not timed).
type Op uint8

// Operation kinds, in the order Ops returns them.
const (
	OpGet Op = iota
	OpSet
	OpDelete
	OpGetMany
	OpSetMany
	OpDeleteMany
	OpScan
	OpClear
	OpPing
	numOps
)

var opNames = [numOps]string{
	OpGet: "get", OpSet: "set", OpDelete: "delete",
	OpGetMany: "getmany", OpSetMany: "setmany", OpDeleteMany: "deletemany",
	OpScan: "scan", OpClear: "clear", OpPing: "ping",
}

// String returns the operation's name as it appears in maps and metric
// labels: "get", "set", "delete", "getmany", "setmany", "deletemany",
// "scan", "clear" or "ping".
func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "unknown"
}

// Ops returns every operation kind, OpGet first. The caller owns the slice.
func Ops() []Op {
	ops := make([]Op, numOps)
	for i := range ops {
		ops[i] = Op(i)
	}
	return ops
}

// Summary describes the latency of one kind of operation since Wrap. It is a
// value: copying it is cheap and it never changes after it is returned.
type Summary struct {
	// Count is the number of calls timed.
	Count uint64
	// Errors is the number of those calls that returned an error.
	Errors uint64
	// Total is the sum of their latencies.
	Total time.Duration
	// Mean is the average latency (0 when Count is 0).
	Mean time.Duration
	// Max is the longest latency seen.
	Max time.Duration
	// Variance is the sample variance of the latencies, in seconds squared
	// (0 when Count < 2).
	Variance float64
}

// StdDev returns the sample standard deviation of the latencies.
func (s Summary) StdDev() time.Duration {
	return time.Duration(math.Sqrt(s.Variance) * float64(time.Second))
}

// shard holds the running statistics of the calls that landed on it.
// Welford's algorithm: mean and m2 (the sum of squared differences from the
// mean) are updated per sample without keeping the samples.
type shard struct {
	mu     sync.Mutex // protects the fields below
	count  uint64
	errors uint64
	sum    int64   // nanoseconds
	max    int64   // nanoseconds
	mean   float64 // nanoseconds
	m2     float64 // nanoseconds squared
	_      [8]byte // pad to 64 bytes, so shards do not share a cache line
}

// recorder is the statistics of one operation kind, striped over shards so
// that concurrent calls rarely meet on one lock.
type recorder struct {
	shards []shard
	mask   uint32
}

// maxShards bounds the stripes per operation kind.
const maxShards = 64

func newRecorder() recorder {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < maxShards {
		n <<= 1
	}
	return recorder{shards: make([]shard, n), mask: uint32(n - 1)}
}

// record adds one sample. It starts at a random shard and takes the first
// lock it can get without waiting; only when every shard is busy does it
// wait for the first one.
func (r *recorder) record(d time.Duration, failed bool) {
	start := rand.Uint32() & r.mask
	i := start
	for {
		s := &r.shards[i]
		if s.mu.TryLock() {
			s.add(d, failed)
			s.mu.Unlock()
			return
		}
		i = (i + 1) & r.mask
		if i == start {
			break
		}
	}
	s := &r.shards[start]
	s.mu.Lock()
	s.add(d, failed)
	s.mu.Unlock()
}

// add applies one sample; the caller holds s.mu.
func (s *shard) add(d time.Duration, failed bool) {
	ns := int64(d)
	s.count++
	if failed {
		s.errors++
	}
	s.sum += ns
	s.max = max(s.max, ns)
	x := float64(ns)
	delta := x - s.mean
	s.mean += delta / float64(s.count)
	s.m2 += delta * (x - s.mean)
}

// summary merges the shards with the parallel form of Welford's algorithm
// (Chan, Golub and LeVeque): two partial results (n_a, mean_a, m2_a) and
// (n_b, mean_b, m2_b) combine into n = n_a + n_b,
// mean = mean_a + delta*n_b/n and m2 = m2_a + m2_b + delta^2*n_a*n_b/n,
// where delta = mean_b - mean_a.
func (r *recorder) summary() Summary {
	var (
		n, errs    uint64
		sum, maxNS int64
		mean, m2   float64
	)
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		sn, se, ssum, smax, smean, sm2 := s.count, s.errors, s.sum, s.max, s.mean, s.m2
		s.mu.Unlock()
		if sn == 0 {
			continue
		}
		total := n + sn
		delta := smean - mean
		mean += delta * float64(sn) / float64(total)
		m2 += sm2 + delta*delta*float64(n)*float64(sn)/float64(total)
		n, errs, sum, maxNS = total, errs+se, sum+ssum, max(maxNS, smax)
	}
	out := Summary{Count: n, Errors: errs, Total: time.Duration(sum), Mean: time.Duration(mean), Max: time.Duration(maxNS)}
	if n > 1 {
		out.Variance = m2 / float64(n-1) / 1e18 // ns² to s²
	}
	return out
}
