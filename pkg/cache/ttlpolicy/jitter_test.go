package ttlpolicy_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache/ttlpolicy"
)

func mustJitter(tb testing.TB, spread time.Duration, src rand.Source) *ttlpolicy.Jitter {
	tb.Helper()
	j, err := ttlpolicy.NewJitter(spread, src)
	if err != nil {
		tb.Fatalf("NewJitter(%s): %v", spread, err)
	}
	return j
}

func TestNewJitterNegative(t *testing.T) {
	j, err := ttlpolicy.NewJitter(-time.Nanosecond, nil)
	if err == nil {
		t.Fatalf("NewJitter(-1ns) = %v, want an error", j)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "ttlpolicy: ") || !strings.Contains(msg, "negative") {
		t.Errorf("NewJitter(-1ns) error = %q, want it to say jitter must not be negative", msg)
	}
}

func TestJitterUnchanged(t *testing.T) {
	var zero ttlpolicy.Jitter
	var nilJitter *ttlpolicy.Jitter
	tests := []struct {
		name string
		j    *ttlpolicy.Jitter
		ttl  time.Duration
	}{
		{"zero Jitter", &zero, time.Minute},
		{"nil Jitter", nilJitter, time.Minute},
		{"spread 0", mustJitter(t, 0, nil), time.Minute},
		{"ttl 0 means no expiry", mustJitter(t, time.Hour, nil), 0},
		{"negative ttl", mustJitter(t, time.Hour, nil), -time.Second},
	}
	for _, tt := range tests {
		for range 100 {
			if got := tt.j.Apply(tt.ttl); got != tt.ttl {
				t.Fatalf("%s: Apply(%s) = %s, want it unchanged", tt.name, tt.ttl, got)
			}
		}
	}
	if nilJitter.Spread() != 0 || zero.Spread() != 0 {
		t.Errorf("Spread() of nil and zero Jitter = %s, %s; want 0", nilJitter.Spread(), zero.Spread())
	}
}

func TestJitterBounds(t *testing.T) {
	const ttl, spread = time.Minute, 10 * time.Second
	for _, tt := range []struct {
		name string
		src  rand.Source
	}{
		{"global", nil},
		{"PCG", rand.NewPCG(1, 2)},
		{"ChaCha8", rand.NewChaCha8([32]byte{7})},
	} {
		j := mustJitter(t, spread, tt.src)
		if j.Spread() != spread {
			t.Errorf("%s: Spread() = %s, want %s", tt.name, j.Spread(), spread)
		}
		var sum time.Duration
		const n = 10_000
		for range n {
			got := j.Apply(ttl)
			if got < ttl || got > ttl+spread {
				t.Fatalf("%s: Apply(%s) = %s, want in [%s, %s]", tt.name, ttl, got, ttl, ttl+spread)
			}
			sum += got - ttl
		}
		// Uniform on [0, 10s]: the mean of 10,000 draws is 5s ± ~0.03s (σ).
		if mean := sum / n; mean < 4500*time.Millisecond || mean > 5500*time.Millisecond {
			t.Errorf("%s: mean offset %s, want about 5s", tt.name, mean)
		}
	}
}

// TestJitterInclusive checks that both ends of [0, spread] come up.
func TestJitterInclusive(t *testing.T) {
	j := mustJitter(t, 3*time.Nanosecond, rand.NewPCG(3, 4))
	seen := map[time.Duration]int{}
	for range 1000 {
		seen[j.Apply(time.Second)-time.Second]++
	}
	for off := range time.Duration(4) {
		if seen[off] == 0 {
			t.Errorf("offset %s never drawn in 1000 tries (seen %v), want every offset in [0, 3ns]", off, seen)
		}
	}
}

func TestJitterDeterministic(t *testing.T) {
	a := mustJitter(t, time.Hour, rand.NewPCG(42, 43))
	b := mustJitter(t, time.Hour, rand.NewPCG(42, 43))
	for i := range 100 {
		if x, y := a.Apply(time.Minute), b.Apply(time.Minute); x != y {
			t.Fatalf("draw %d: %s != %s from two identically seeded Jitters", i, x, y)
		}
	}
}

func TestJitterSaturates(t *testing.T) {
	for _, src := range []rand.Source{nil, rand.NewPCG(5, 6)} {
		j := mustJitter(t, math.MaxInt64, src)
		for range 100 {
			if got := j.Apply(math.MaxInt64 - 1); got < math.MaxInt64-1 {
				t.Fatalf("Apply(MaxInt64-1) = %d, want >= the ttl (no overflow)", got)
			}
			if got := j.Apply(time.Second); got < time.Second {
				t.Fatalf("Apply(1s) with spread MaxInt64 = %d, want >= 1s", got)
			}
		}
	}
}

func TestJitterConcurrent(t *testing.T) {
	for _, src := range []rand.Source{nil, rand.NewPCG(8, 9)} {
		j := mustJitter(t, time.Second, src)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 1000 {
					if got := j.Apply(time.Minute); got < time.Minute || got > time.Minute+time.Second {
						t.Errorf("concurrent Apply(1m) = %s, want in [1m, 1m1s]", got)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
