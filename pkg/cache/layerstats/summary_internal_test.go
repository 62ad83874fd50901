package layerstats

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestRecorderWelfordMatchesTwoPass(t *testing.T) {
	r := newRecorder()
	var samples []float64
	for i := 1; i <= 10; i++ {
		d := time.Duration(i) * time.Millisecond
		r.record(d, i%4 == 0)
		samples = append(samples, d.Seconds())
	}
	got := r.summary()

	var mean float64
	for _, x := range samples {
		mean += x
	}
	mean /= float64(len(samples))
	var ss float64
	for _, x := range samples {
		ss += (x - mean) * (x - mean)
	}
	wantVar := ss / float64(len(samples)-1)

	if got.Count != 10 || got.Errors != 2 {
		t.Errorf("Count, Errors = %d, %d; want 10, 2", got.Count, got.Errors)
	}
	if got.Total != 55*time.Millisecond || got.Max != 10*time.Millisecond {
		t.Errorf("Total, Max = %v, %v; want 55ms, 10ms", got.Total, got.Max)
	}
	if got.Mean != 5500*time.Microsecond {
		t.Errorf("Mean = %v; want 5.5ms", got.Mean)
	}
	if math.Abs(got.Variance-wantVar) > 1e-12 {
		t.Errorf("Variance = %g s²; want %g s²", got.Variance, wantVar)
	}
	if sd, want := got.StdDev(), time.Duration(math.Sqrt(wantVar)*1e9); absDur(sd-want) > time.Microsecond {
		t.Errorf("StdDev = %v; want %v", sd, want)
	}
}

// TestRecorderMergesShards spreads samples of two populations over the
// shards by hand and checks the merged result against the whole population.
func TestRecorderMergesShards(t *testing.T) {
	r := recorder{shards: make([]shard, 4), mask: 3}
	all := recorder{shards: make([]shard, 1), mask: 0}
	for i := range 1000 {
		d := time.Duration(1+i%37) * time.Microsecond
		if i%5 == 0 {
			d = time.Duration(i) * time.Millisecond // a second, wider population
		}
		r.shards[i%4].add(d, false)
		all.shards[0].add(d, false)
	}
	got, want := r.summary(), all.summary()
	if got.Count != want.Count || got.Total != want.Total || got.Max != want.Max {
		t.Errorf("merged Count/Total/Max = %d/%v/%v; single shard %d/%v/%v",
			got.Count, got.Total, got.Max, want.Count, want.Total, want.Max)
	}
	if absDur(got.Mean-want.Mean) > time.Nanosecond {
		t.Errorf("merged Mean = %v; single shard %v", got.Mean, want.Mean)
	}
	if rel := math.Abs(got.Variance-want.Variance) / want.Variance; rel > 1e-9 {
		t.Errorf("merged Variance = %g; single shard %g (relative error %g)", got.Variance, want.Variance, rel)
	}
}

func TestRecorderEmptyAndSingle(t *testing.T) {
	r := newRecorder()
	if got := r.summary(); got != (Summary{}) {
		t.Errorf("empty summary = %+v; want zero", got)
	}
	r.record(3*time.Millisecond, false)
	got := r.summary()
	if got.Count != 1 || got.Mean != 3*time.Millisecond || got.Variance != 0 {
		t.Errorf("one sample: %+v; want Count 1, Mean 3ms, Variance 0", got)
	}
}

func TestRecorderConcurrent(t *testing.T) {
	r := newRecorder()
	const goroutines, each = 8, 2000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				r.record(time.Microsecond, false)
			}
		})
	}
	wg.Wait()
	got := r.summary()
	if got.Count != goroutines*each || got.Mean != time.Microsecond || got.Variance != 0 {
		t.Errorf("summary after %d records of 1µs = %+v", goroutines*each, got)
	}
}

func TestOpString(t *testing.T) {
	want := []string{"get", "set", "delete", "getmany", "setmany", "deletemany", "scan", "clear", "ping"}
	ops := Ops()
	if len(ops) != len(want) {
		t.Fatalf("Ops() has %d kinds; want %d", len(ops), len(want))
	}
	for i, op := range ops {
		if op.String() != want[i] {
			t.Errorf("Ops()[%d].String() = %q; want %q", i, op, want[i])
		}
	}
	if s := Op(200).String(); s != "unknown" {
		t.Errorf("Op(200).String() = %q; want unknown", s)
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func BenchmarkRecord(b *testing.B) {
	r := newRecorder()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.record(time.Microsecond, false)
		}
	})
}
