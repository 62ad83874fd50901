package cache_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
)

func TestNewRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	mem := func(name string) cache.Layer { return newMemory(t, name, nil) }
	tests := []struct {
		name    string
		layers  []cache.Layer
		opts    cache.Options
		wantErr string
	}{
		{"no layers", nil, cache.Options{}, "at least one layer"},
		{"nil layer", []cache.Layer{nil}, cache.Options{}, "layer 0 is nil"},
		{"duplicate names", []cache.Layer{mem("a"), mem("a")}, cache.Options{}, `two layers are named "a"`},
		{"negative TTL", []cache.Layer{mem("a")}, cache.Options{TTL: -time.Second}, "Options.TTL"},
		{"negative SWR", []cache.Layer{mem("a")}, cache.Options{StaleWhileRevalidate: -1}, "Options.StaleWhileRevalidate"},
		{"unknown layer in Layers", []cache.Layer{mem("a")}, cache.Options{Layers: map[string]cache.LayerOptions{"b": {}}}, `names layer "b"`},
		{"negative layer window", []cache.Layer{mem("a")}, cache.Options{Layers: map[string]cache.LayerOptions{"a": {StaleIfError: ptr(-time.Second)}}}, `Layers["a"].StaleIfError`},
		{"negative MaxValueBytes", []cache.Layer{mem("a")}, cache.Options{MaxValueBytes: -1}, "Options.MaxValueBytes"},
		// Deadlines are int64 nanoseconds: longer durations would overflow.
		{"TTL over MaxDuration", []cache.Layer{mem("a")}, cache.Options{TTL: cache.MaxDuration + 1}, "Options.TTL"},
		{"TTLJitter over MaxDuration", []cache.Layer{mem("a")}, cache.Options{TTLJitter: math.MaxInt64}, "Options.TTLJitter"},
		{"layer TTLJitter over MaxDuration", []cache.Layer{mem("a")}, cache.Options{Layers: map[string]cache.LayerOptions{"a": {TTLJitter: ptr(time.Duration(math.MaxInt64))}}}, `Layers["a"].TTLJitter`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cache.New(context.Background(), tc.layers, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New() error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestGetWithoutFetcherOnMissReturnsErrMiss(t *testing.T) {
	t.Parallel()
	users := cache.Typed[string](newStack(t, cache.Options{}))
	_, err := users.Get(context.Background(), "absent", nil)
	if !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get(absent) error = %v, want ErrMiss", err)
	}
}

func TestGetReadsThroughOnceThenHits(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	v := cache.Typed[string](s)
	var calls atomic.Int32
	for range 3 {
		got, err := v.Get(context.Background(), "k", counting("v", &calls))
		if err != nil || got != "v" {
			t.Fatalf("Get = %q, %v; want v, nil", got, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("fetcher called %d times, want 1", n)
	}
	st := s.Stats()
	if st.Hits != 2 || st.Misses != 1 || st.Fetches != 1 || st.Sets != 1 {
		t.Errorf("stats = hits %d misses %d fetches %d sets %d; want 2 1 1 1", st.Hits, st.Misses, st.Fetches, st.Sets)
	}
	if st.Layers[0].Hits != 2 || st.Layers[0].Misses != 1 {
		t.Errorf("layer stats = %+v, want 2 hits 1 miss", st.Layers[0])
	}
}

func TestInvalidKeysAreRejectedAtTheCall(t *testing.T) {
	t.Parallel()
	v := cache.Typed[string](newStack(t, cache.Options{}))
	for _, key := range []string{"", strings.Repeat("k", cache.MaxKeyLen+1), "a\x00b", "tab\tkey", "bad\xffutf8", "del\x7f"} {
		_, err := v.Get(context.Background(), key, nil)
		if !errors.Is(err, cache.ErrInvalidKey) {
			t.Errorf("Get(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := v.Set(context.Background(), key, "x"); !errors.Is(err, cache.ErrInvalidKey) {
			t.Errorf("Set(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
	if err := v.Set(context.Background(), "ok", "x", cache.Tags("bad\x01tag")); !errors.Is(err, cache.ErrInvalidKey) {
		t.Errorf("Set with bad tag error = %v, want ErrInvalidKey", err)
	}
	if err := v.Set(context.Background(), "ok", "x", cache.TTL(-time.Second)); err == nil {
		t.Error("Set with negative TTL succeeded, want an error")
	}
	if _, err := v.Get(context.Background(), "ok", nil); !errors.Is(err, cache.ErrMiss) {
		t.Errorf("rejected writes stored something: Get(ok) error = %v, want ErrMiss", err)
	}
}

func TestFetchErrorIsReturnedAndNothingIsStored(t *testing.T) {
	t.Parallel()
	v := cache.Typed[int](newStack(t, cache.Options{}))
	boom := errors.New("db down")
	_, err := v.Get(context.Background(), "k", func(context.Context) (int, error) { return 0, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Get error = %v, want %v", err, boom)
	}
	if _, err := v.Get(context.Background(), "k", nil); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("after failed fetch, Get error = %v, want ErrMiss", err)
	}
}

func TestTTLExpiresEntriesOnTheStackClock(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute})
	v := cache.Typed[string](s)
	if err := v.Set(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	if ttl, ok, err := s.TTL(context.Background(), "k"); err != nil || !ok || ttl != time.Minute {
		t.Fatalf("TTL = %v, %v, %v; want 1m, true, nil", ttl, ok, err)
	}
	clock.Advance(time.Minute + time.Second)
	if _, err := v.Get(context.Background(), "k", nil); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get after TTL error = %v, want ErrMiss", err)
	}
	if ok, _ := s.Has(context.Background(), "k"); ok {
		t.Error("Has after TTL = true, want false")
	}
}

func TestPerCallTTLOverridesDefault(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Hour})
	v := cache.Typed[string](s)
	if err := v.Set(context.Background(), "k", "v", cache.TTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	ttl, _, _ := s.TTL(context.Background(), "k")
	if ttl != time.Second {
		t.Fatalf("TTL = %v, want 1s", ttl)
	}
	if err := v.Set(context.Background(), "forever", "v", cache.TTL(0)); err != nil {
		t.Fatal(err)
	}
	if ttl, ok, _ := s.TTL(context.Background(), "forever"); !ok || ttl != cache.NoExpiry {
		t.Fatalf("TTL(forever) = %v, %v; want NoExpiry, true", ttl, ok)
	}
}

func TestDeleteRemovesFromEveryLayer(t *testing.T) {
	t.Parallel()
	l1, l2 := newMemory(t, "l1", nil), newMemory(t, "l2", nil)
	s := newStack(t, cache.Options{}, l1, l2)
	v := cache.Typed[string](s)
	ctx := context.Background()
	if err := v.Set(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	for _, l := range []cache.Layer{l1, l2} {
		if _, ok, _ := l.Get(ctx, "k"); ok {
			t.Errorf("layer %s still holds k after Delete", l.Info().Name)
		}
	}
}

func TestHitInSlowerLayerBackfillsFasterOnesWithRemainingTTL(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	l1, l2 := newMemory(t, "l1", clock), newMemory(t, "l2", clock)
	s := newStack(t, cache.Options{Clock: clock}, l1, l2)
	ctx := context.Background()
	fresh := clock.NowNano() + int64(time.Minute)
	if err := l2.Set(ctx, "k", cache.Entry{Value: "from-l2", FreshUntil: fresh}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(20 * time.Second)
	got, err := cache.Typed[string](s).Get(ctx, "k", nil)
	if err != nil || got != "from-l2" {
		t.Fatalf("Get = %q, %v; want from-l2", got, err)
	}
	e, ok, _ := l1.Get(ctx, "k")
	if !ok || e.FreshUntil != fresh {
		t.Fatalf("l1 after backfill: found %v, FreshUntil %d; want true, %d (the source's deadline)", ok, e.FreshUntil, fresh)
	}
	st := s.Stats()
	if st.Backfills != 1 || st.Layers[0].Misses != 1 || st.Layers[1].Hits != 1 {
		t.Errorf("stats = backfills %d, l1 misses %d, l2 hits %d; want 1, 1, 1", st.Backfills, st.Layers[0].Misses, st.Layers[1].Hits)
	}
}

func TestEventsReportHitsMissesFetchesAndSets(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	var got []string
	unsubscribe := s.Subscribe(func(e cache.Event) { got = append(got, e.Type.String()+":"+e.Key) })
	v := cache.Typed[int](s)
	ctx := context.Background()
	if _, err := v.Get(ctx, "k", func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Get(ctx, "k", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	unsubscribe()
	_, _ = v.Get(ctx, "k", nil)
	want := []string{"miss:k", "fetch:k", "set:k", "hit:k", "delete:k"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events = %v, want %v", got, want)
	}
}

func TestOperationsAfterCloseReturnErrClosed(t *testing.T) {
	t.Parallel()
	s, err := cache.New(context.Background(), []cache.Layer{newMemory(t, "m", nil)}, cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	v := cache.Typed[int](s)
	if _, err := v.Get(context.Background(), "k", nil); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if err := v.Set(context.Background(), "k", 1); !errors.Is(err, cache.ErrClosed) {
		t.Errorf("Set after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestInspectReportsEachLayerWithoutSideEffects(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	l1, l2 := newMemory(t, "l1", clock), newMemory(t, "l2", clock)
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute}, l1, l2)
	ctx := context.Background()
	if err := l2.Set(ctx, "k", cache.Entry{Value: 1, FreshUntil: clock.NowNano() + int64(time.Minute), Tags: []string{"t"}}); err != nil {
		t.Fatal(err)
	}
	report, err := s.Inspect(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if report[0].Found || !report[1].Found || report[1].FreshFor != time.Minute || report[1].Tags[0] != "t" {
		t.Fatalf("Inspect = %+v; want only l2 with 1m left and tag t", report)
	}
	if _, ok, _ := l1.Get(ctx, "k"); ok {
		t.Error("Inspect backfilled l1")
	}
	if st := s.Stats(); st.Hits+st.Misses != 0 {
		t.Errorf("Inspect counted reads: %+v", st)
	}
}

func ptr[T any](v T) *T { return &v }

func TestPerLayerOptionsOverrideStackDefaults(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	l1, l2 := newMemory(t, "l1", clock), newMemory(t, "l2", clock)
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Hour, StaleWhileRevalidate: time.Minute,
		Layers: map[string]cache.LayerOptions{"l1": {TTL: ptr(time.Minute), StaleWhileRevalidate: ptr(time.Duration(0))}}}, l1, l2)
	ctx := context.Background()
	if err := cache.Typed[int](s).Set(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	now := clock.NowNano()
	e1, _, _ := l1.Get(ctx, "k")
	e2, _, _ := l2.Get(ctx, "k")
	if e1.FreshUntil != now+int64(time.Minute) || e1.StaleUntil != 0 {
		t.Errorf("l1 deadlines = %d/%d, want now+1m and no SWR window", e1.FreshUntil-now, e1.StaleUntil)
	}
	if e2.FreshUntil != now+int64(time.Hour) || e2.StaleUntil != now+int64(time.Hour+time.Minute) {
		t.Errorf("l2 deadlines = %d/%d, want the Stack's 1h + 1m window", e2.FreshUntil-now, e2.StaleUntil-now)
	}
}

func TestCallDurationsOverMaxDurationAreRejectedNotOverflowed(t *testing.T) {
	t.Parallel()
	v := cache.Typed[int](newStack(t, cache.Options{}))
	ctx := context.Background()
	for _, opt := range []cache.Option{
		cache.TTLJitter(math.MaxInt64), // once panicked in rand.Int64N
		cache.TTL(cache.MaxDuration + 1),
		cache.StaleWhileRevalidate(math.MaxInt64),
	} {
		if err := v.Set(ctx, "k", 1, opt); err == nil || !strings.Contains(err.Error(), "MaxDuration") {
			t.Errorf("Set with %v = %v, want an error naming MaxDuration", opt, err)
		}
	}
	if err := v.Set(ctx, "k", 1, cache.TTL(cache.MaxDuration), cache.TTLJitter(cache.MaxDuration)); err != nil {
		t.Fatalf("Set with MaxDuration: %v", err)
	}
	if got, err := v.Get(ctx, "k", nil); err != nil || got != 1 {
		t.Fatalf("Get after a Set with MaxDuration = %d, %v; want 1 (not expired by an overflow)", got, err)
	}
}

func TestLongestDurationsTogetherStayInTheFuture(t *testing.T) {
	t.Parallel()
	// TTL, jitter and both stale windows at MaxDuration: every deadline
	// must still lie ahead (an overflow would make the entry expired).
	v := cache.Typed[int](newStack(t, cache.Options{}))
	ctx := context.Background()
	m := cache.MaxDuration
	if err := v.Set(ctx, "k", 1, cache.TTL(m), cache.TTLJitter(m), cache.StaleWhileRevalidate(m), cache.StaleIfError(m)); err != nil {
		t.Fatal(err)
	}
	if got, err := v.Get(ctx, "k", nil); err != nil || got != 1 {
		t.Fatalf("Get = %d, %v; want 1", got, err)
	}
}

func TestStackKeepsTimeWithItsMemoryLayersClock(t *testing.T) {
	t.Parallel()
	// No Options.Clock: the Stack reads the memory layer's clock, so the
	// deadlines it writes are the ones the layer checks, and no clock of its
	// own ticks beside the layer's.
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{TTL: time.Minute}, newMemory(t, "memory", clock))
	v := cache.Typed[int](s)
	ctx := context.Background()
	must(t, v.Set(ctx, "k", 1))
	if got, err := v.Get(ctx, "k", nil); err != nil || got != 1 {
		t.Fatalf("Get before the TTL = %d, %v; want 1", got, err)
	}
	clock.Advance(2 * time.Minute)
	if _, err := v.Get(ctx, "k", nil); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get two minutes later on the layer's clock = %v, want ErrMiss (the TTL was set by that clock)", err)
	}
}
