package cache

import (
	"testing"
	"time"
)

func TestXFetchProbabilityFollowsCostAndTimeLeft(t *testing.T) {
	t.Parallel()
	// With a fetch far slower than the time left, -ln(U) >= 1e-9 fails only
	// for U within 1e-9 of 1: effectively always refresh.
	refreshes := 0
	for range 1000 {
		if xfetch(int64(time.Nanosecond), int64(time.Second), 1) {
			refreshes++
		}
	}
	if refreshes < 999 {
		t.Errorf("near expiry with a slow fetch: %d/1000 refreshes, want ~all", refreshes)
	}
	// An hour left and a 1 ns fetch needs -ln(U) >= 3.6e12: never.
	for range 1000 {
		if xfetch(int64(time.Hour), 1, 1) {
			t.Fatal("refreshed with an hour left and a 1ns fetch")
		}
	}
	if xfetch(1, 0, 1) {
		t.Error("refreshed a key whose fetch cost is unknown")
	}
}

func TestAdaptNeverExceedsItsCeiling(t *testing.T) {
	t.Parallel()
	a := &AdaptiveTTL{HotAfter: 3}
	base := time.Minute
	if got := adapt(base, 2, a); got != base {
		t.Errorf("below HotAfter: %v, want %v", got, base)
	}
	if got := adapt(base, 3, a); got != base+30*time.Second {
		t.Errorf("at HotAfter: %v, want base + half", got)
	}
	if got := adapt(base, 1<<62, a); got != base+4*30*time.Second {
		t.Errorf("very hot: %v, want the default ceiling base + 4 steps", got)
	}
}
