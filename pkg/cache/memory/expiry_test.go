package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// TestExpiry drives the layer's clock by hand; nothing sleeps.
func TestExpiry(t *testing.T) {
	t.Parallel()
	type check struct {
		after time.Duration // clock advance since Set
		found bool
	}
	tests := []struct {
		name   string
		entry  func(c *fakeClock) cache.Entry
		checks []check
	}{
		{
			name:   "FreshOnly",
			entry:  func(c *fakeClock) cache.Entry { return cache.Entry{Value: "v", FreshUntil: c.At(10 * time.Second)} },
			checks: []check{{0, true}, {10*time.Second - 1, true}, {10 * time.Second, false}, {time.Hour, false}},
		},
		{
			name: "StaleAndErrorWindowsKeepIt",
			entry: func(c *fakeClock) cache.Entry {
				return cache.Entry{Value: "v", FreshUntil: c.At(time.Second), StaleUntil: c.At(5 * time.Second), ErrorUntil: c.At(20 * time.Second)}
			},
			checks: []check{{2 * time.Second, true}, {10 * time.Second, true}, {20*time.Second - 1, true}, {20 * time.Second, false}},
		},
		{
			name:   "NeverExpires",
			entry:  func(*fakeClock) cache.Entry { return cache.Entry{Value: "v"} },
			checks: []check{{0, true}, {100 * 365 * 24 * time.Hour, true}},
		},
		{
			name:   "NegativeEntryExpires",
			entry:  func(c *fakeClock) cache.Entry { return cache.Entry{Negative: true, FreshUntil: c.At(time.Minute)} },
			checks: []check{{time.Minute - 1, true}, {time.Minute, false}},
		},
		{
			name:   "AlreadyExpiredIsNotStored",
			entry:  func(c *fakeClock) cache.Entry { return cache.Entry{Value: "v", FreshUntil: c.At(-time.Second)} },
			checks: []check{{0, false}},
		},
		{
			name:   "ExpiringNowIsNotStored",
			entry:  func(c *fakeClock) cache.Entry { return cache.Entry{Value: "v", FreshUntil: c.At(0)} },
			checks: []check{{0, false}},
		},
	}
	for _, tc := range tests {
		for _, bytes := range []int64{0, 1 << 20} {
			t.Run(fmt.Sprintf("%s/MaxBytes=%d", tc.name, bytes), func(t *testing.T) {
				t.Parallel()
				clock := newFakeClock()
				l := newLayer(t, Options{Clock: clock, MaxBytes: bytes})
				ctx := context.Background()
				if err := l.Set(ctx, "k", tc.entry(clock)); err != nil {
					t.Fatalf("Set: %v", err)
				}
				start := clock.NowNano()
				for _, c := range tc.checks {
					clock.now.Store(start + int64(c.after))
					if _, ok, err := l.Get(ctx, "k"); err != nil || ok != c.found {
						t.Errorf("Get %v after Set = found %v, err %v; want found %v", c.after, ok, err, c.found)
					}
				}
			})
		}
	}
}

func TestSetReplacesDeadline(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := newLayer(t, Options{Clock: clock})
	ctx := context.Background()
	set := func(until time.Duration) {
		t.Helper()
		if err := l.Set(ctx, "k", cache.Entry{Value: "v", FreshUntil: clock.At(until)}); err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	found := func() bool {
		t.Helper()
		_, ok, err := l.Get(ctx, "k")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		return ok
	}

	set(time.Hour)
	set(time.Second) // shortens the deadline
	clock.Add(time.Second)
	if found() {
		t.Error("entry re-set to live 1s was found after 1s")
	}

	set(time.Second)
	set(time.Hour) // lengthens it
	clock.Add(time.Minute)
	if !found() {
		t.Error("entry re-set to live 1h was not found after 1m")
	}

	set(-time.Second) // an expired entry removes the live one
	if found() {
		t.Error("Set of an expired entry left the previous entry in place")
	}
}

func TestExpiredKeysAreNotScannedAndAreRemoved(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	l := newLayer(t, Options{Clock: clock})
	ctx := context.Background()
	for _, k := range []string{"short:1", "short:2"} {
		if err := l.Set(ctx, k, cache.Entry{Value: k, FreshUntil: clock.At(time.Second)}); err != nil {
			t.Fatalf("Set(%q): %v", k, err)
		}
	}
	if err := l.Set(ctx, "long", cache.Entry{Value: "long", FreshUntil: clock.At(time.Hour)}); err != nil {
		t.Fatalf("Set(long): %v", err)
	}
	clock.Add(time.Minute)
	var keys []string
	if err := l.Scan(ctx, "", func(k string) bool { keys = append(keys, k); return true }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if len(keys) != 1 || keys[0] != "long" {
		t.Errorf("Scan after short entries expired = %v, want [long]", keys)
	}
	cleanUp(l)
	if n := l.store.EstimatedSize(); n != 1 {
		t.Errorf("entries held after expiry and clean-up = %d, want 1", n)
	}
}
