package cache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/ttlpolicy"
)

func ttlOf(t *testing.T, s *cache.Stack, key string) time.Duration {
	t.Helper()
	ttl, ok, err := s.TTL(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("TTL(%q) = %v, %v, %v", key, ttl, ok, err)
	}
	return ttl
}

func TestTTLPoliciesComputeTTLAtWriteTimeInTheirZone(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock() // 2026-01-01 00:00 UTC
	clock.Advance(22 * time.Hour)
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	s := newStack(t, cache.Options{
		Clock:     clock,
		TTLPolicy: ttlpolicy.UntilMidnight(nil),
		TTLPolicies: map[string]cache.TTLPolicy{
			"kolkata-hour": ttlpolicy.NextHour(kolkata),
		},
	})
	v := cache.Typed[int](s)
	ctx := context.Background()
	must(t, v.Set(ctx, "daily", 1))
	if got := ttlOf(t, s, "daily"); got != 2*time.Hour {
		t.Errorf("UntilMidnight at 22:00 UTC: TTL = %v, want 2h", got)
	}
	must(t, v.Set(ctx, "hourly", 1, cache.WithTTLPolicy("kolkata-hour")))
	if got := ttlOf(t, s, "hourly"); got != 30*time.Minute { // 22:00 UTC = 03:30 IST
		t.Errorf("NextHour in Kolkata at 03:30 IST: TTL = %v, want 30m", got)
	}
	must(t, v.Set(ctx, "explicit", 1, cache.TTL(time.Minute)))
	if got := ttlOf(t, s, "explicit"); got != time.Minute {
		t.Errorf("explicit TTL = %v, want 1m (an explicit TTL wins over the policy)", got)
	}
	if err := v.Set(ctx, "x", 1, cache.WithTTLPolicy("nope")); err == nil {
		t.Error("Set with an unknown policy name succeeded")
	}
}

func TestJitterOnlyLengthensWithinBounds(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute, TTLJitter: 10 * time.Second})
	v := cache.Typed[int](s)
	distinct := map[time.Duration]bool{}
	for i := range 50 {
		key := string(rune('a'+i%26)) + string(rune('a'+i/26))
		must(t, v.Set(context.Background(), key, i))
		ttl := ttlOf(t, s, key)
		if ttl < time.Minute || ttl > 70*time.Second {
			t.Fatalf("TTL with jitter = %v, want within [1m, 1m10s]", ttl)
		}
		distinct[ttl] = true
	}
	if len(distinct) < 2 {
		t.Errorf("50 jittered TTLs were all equal")
	}
	must(t, v.Set(context.Background(), "nojitter", 1, cache.TTLJitter(0)))
	if got := ttlOf(t, s, "nojitter"); got != time.Minute {
		t.Errorf("TTLJitter(0) per call: TTL = %v, want 1m", got)
	}
}

func TestSlidingTTLRestartsFreshnessOnEveryLayer(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	l1, l2 := newMemory(t, "l1", clock), newMemory(t, "l2", clock)
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute}, l1, l2)
	v := cache.Typed[string](s)
	ctx := context.Background()
	must(t, v.Set(ctx, "session", "s"))
	for range 3 {
		clock.Advance(40 * time.Second)
		if _, err := v.Get(ctx, "session", nil, cache.SlidingTTL(true)); err != nil {
			t.Fatalf("Get with sliding TTL after 40s: %v", err)
		}
	}
	for _, l := range []cache.Layer{l1, l2} {
		e, ok, _ := l.Get(ctx, "session")
		if !ok || e.FreshUntil != clock.NowNano()+int64(time.Minute) {
			t.Errorf("layer %s: fresh until %d, want now+1m", l.Info().Name, e.FreshUntil)
		}
	}
	clock.Advance(61 * time.Second)
	if _, err := v.Get(ctx, "session", nil); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get after a minute without reads = %v, want ErrMiss", err)
	}
}

// newAdaptiveStack is a Stack on a manual clock whose TTL of one minute
// grows by 30s per read once a key has been read twice, up to two minutes.
func newAdaptiveStack(t *testing.T) (*cache.Stack, *cachetest.ManualClock) {
	t.Helper()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute,
		AdaptiveTTL: &cache.AdaptiveTTL{HotAfter: 2, Step: 30 * time.Second, Max: 2 * time.Minute}})
	return s, clock
}

func TestAdaptiveTTLLengthensHotKeys(t *testing.T) {
	t.Parallel()
	s, _ := newAdaptiveStack(t)
	v := cache.Typed[int](s)
	ctx := context.Background()
	must(t, v.Set(ctx, "hot", 1))
	if got := ttlOf(t, s, "hot"); got != time.Minute {
		t.Fatalf("cold key TTL = %v, want 1m", got)
	}
	steps := []time.Duration{time.Minute, 90 * time.Second, 90 * time.Second, 2 * time.Minute, 2 * time.Minute, 2 * time.Minute}
	for i, want := range steps {
		if _, err := v.Get(ctx, "hot", nil); err != nil {
			t.Fatal(err)
		}
		must(t, v.Set(ctx, "hot", 1))
		if got := ttlOf(t, s, "hot"); got != want {
			t.Errorf("after %d reads TTL = %v, want %v", i+1, got, want)
		}
	}
}

func TestRefreshAheadRefreshesBeforeExpiry(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute, RefreshAhead: 10 * time.Second})
	v := cache.Typed[string](s)
	ctx := context.Background()
	must(t, v.Set(ctx, "k", "old"))
	var calls atomic.Int32
	fetch := func(context.Context) (string, error) { calls.Add(1); return "new", nil }
	if got, _ := v.Get(ctx, "k", fetch); got != "old" || calls.Load() != 0 {
		t.Fatalf("Get with 60s left = %q (fetches %d), want old without a refresh", got, calls.Load())
	}
	refreshed := make(chan struct{})
	s.Subscribe(func(e cache.Event) {
		if e.Type == cache.EventRefresh {
			close(refreshed)
		}
	})
	clock.Advance(55 * time.Second)
	if got, _ := v.Get(ctx, "k", fetch); got != "old" {
		t.Fatalf("Get in the refresh-ahead window = %q, want old (served at once)", got)
	}
	<-refreshed
	if got, _ := v.Get(ctx, "k", nil); got != "new" || calls.Load() != 1 {
		t.Fatalf("after refresh-ahead Get = %q with %d fetches, want new with 1", got, calls.Load())
	}
}

func TestWarmLoadsByPriorityReportsProgressAndContinuesOnError(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	v := cache.Typed[string](s)
	ctx := context.Background()
	var order []string
	ok := func(k string) cache.Fetcher[string] {
		return func(context.Context) (string, error) { order = append(order, k); return k, nil }
	}
	fail := func(context.Context) (string, error) {
		order = append(order, "bad")
		return "", errors.New("origin 500")
	}
	entries := []cache.WarmEntry[string]{
		{Key: "low", Fetch: ok("low"), Priority: 1},
		{Key: "bad", Fetch: fail, Priority: 5},
		{Key: "high", Fetch: ok("high"), Priority: 9},
		{Key: "mid", Fetch: ok("mid"), Priority: 5},
	}
	var progress []cache.WarmProgress
	report, err := v.Warm(ctx, entries, cache.WarmOptions{Concurrency: 1, Progress: func(p cache.WarmProgress) {
		progress = append(progress, p)
	}})
	if err == nil {
		t.Fatal("Warm with a failing entry returned no error")
	}
	if want := []string{"high", "bad", "mid", "low"}; len(order) != 4 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] || order[3] != want[3] {
		t.Fatalf("fetch order = %v, want %v", order, want)
	}
	if report.Total != 4 || report.Loaded != 3 || report.Failed != 1 {
		t.Fatalf("report = %+v, want 4 total, 3 loaded, 1 failed", report)
	}
	if last := progress[len(progress)-1]; len(progress) != 4 || last.Done != 4 || last.Failed != 1 {
		t.Fatalf("progress = %+v", progress)
	}
	if got := present(t, cache.Typed[string](s), "high", "mid", "low", "bad"); len(got) != 3 || got["bad"] {
		t.Fatalf("cached after warm = %v", got)
	}

	order = nil
	_, err = v.Warm(ctx, []cache.WarmEntry[string]{{Key: "x", Fetch: fail, Priority: 2}, {Key: "y", Fetch: ok("y")}},
		cache.WarmOptions{Concurrency: 1, StopOnError: true, Refresh: true})
	if err == nil || len(order) != 1 {
		t.Fatalf("StopOnError: err %v, fetched %v; want an error after the first entry", err, order)
	}
}

func TestSlidingTTLDoesNotStretchANegativeEntry(t *testing.T) {
	t.Parallel()
	// A "not found" cached for 5 s, looked up every second: sliding (with
	// a one-hour TTL) must not keep it, or the key would stay missing for
	// as long as anyone asks for it.
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Hour, NegativeTTL: 5 * time.Second, SlidingTTL: true})
	v := cache.Typed[int](s)
	ctx := context.Background()
	var calls atomic.Int32
	notFound := func(context.Context) (int, error) { calls.Add(1); return 0, cache.ErrNotFound }
	for range 10 {
		if _, err := v.Get(ctx, "k", notFound); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get = %v, want ErrNotFound", err)
		}
		clock.Advance(time.Second)
	}
	if n := calls.Load(); n < 2 {
		t.Fatalf("10 lookups over 10 s made %d fetches, want the negative entry to expire after 5 s", n)
	}
}
