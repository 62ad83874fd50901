package cache_test

import (
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/memory"
)

// refreshEvents returns a channel that receives the key of every
// EventRefresh of s.
func refreshEvents(s *cache.Stack) <-chan string {
	ch := make(chan string, 64)
	s.Subscribe(func(e cache.Event) {
		if e.Type == cache.EventRefresh {
			ch <- e.Key
		}
	})
	return ch
}

// receive returns the next value of ch. The bound is no timing assertion:
// it turns a refresh that never comes into a failure instead of a hang.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	select {
	case v := <-ch:
		return v
	case <-timeout.C:
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// notFound is a bulk fetcher that finds nothing.
func notFound(context.Context, []string) (map[string]string, error) { return nil, nil }

func TestGetManySlidesFreshHitsAsGetDoes(t *testing.T) {
	t.Parallel()
	// "session" holds a value and slides. As in Get, "gone", a cached "not
	// found", must not slide (it would hide the key's creation for as long
	// as it is looked up), nor "late", past its freshness (served from its
	// stale-if-error window as there is no fetcher).
	for _, tc := range []struct {
		name     string
		opts     cache.Options
		callOpts []cache.Option
		onlyInL2 bool // session must be backfilled into l1 before it slides
	}{
		{"Options.SlidingTTL", cache.Options{SlidingTTL: true}, nil, false},
		{"per-call SlidingTTL", cache.Options{}, []cache.Option{cache.SlidingTTL(true)}, false},
		{"hit in l2, backfilled then slid", cache.Options{SlidingTTL: true}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := cachetest.NewManualClock()
			l1, l2 := newMemory(t, "l1", clock), newMemory(t, "l2", clock)
			opts := tc.opts
			opts.Clock, opts.TTL, opts.NegativeTTL = clock, time.Minute, 30*time.Second
			s := newStack(t, opts, l1, l2)
			v := cache.Typed[string](s)
			ctx := context.Background()
			must(t, v.Set(ctx, "session", "s"))
			if tc.onlyInL2 {
				must(t, l1.Delete(ctx, "session"))
			}
			must(t, v.Set(ctx, "late", "l", cache.TTL(10*time.Second), cache.StaleIfError(time.Hour)))
			if _, err := v.GetMany(ctx, []string{"gone"}, notFound); err != nil {
				t.Fatal(err)
			}
			unslid := []string{"gone", "late"}
			until := map[string]int64{} // layer/key: fresh until
			for _, l := range []*memory.Layer{l1, l2} {
				for _, k := range unslid {
					e, ok, _ := l.Get(ctx, k)
					if !ok {
						t.Fatalf("layer %s: no %s", l.Info().Name, k)
					}
					until[l.Info().Name+"/"+k] = e.FreshUntil
				}
			}

			clock.Advance(20 * time.Second)
			got, err := v.GetMany(ctx, []string{"session", "gone", "late"}, nil, tc.callOpts...)
			if want := map[string]string{"session": "s", "late": "l"}; err != nil || !maps.Equal(got, want) {
				t.Fatalf("GetMany = %v, %v; want %v", got, err, want)
			}
			for _, l := range []*memory.Layer{l1, l2} {
				name := l.Info().Name
				e, ok, _ := l.Get(ctx, "session")
				if want := clock.NowNano() + int64(time.Minute); !ok || e.FreshUntil != want {
					t.Errorf("layer %s: session fresh until %d (found %v), want now+1m = %d", name, e.FreshUntil, ok, want)
				}
				for _, k := range unslid {
					e, ok, _ = l.Get(ctx, k)
					if want := until[name+"/"+k]; !ok || e.FreshUntil != want {
						t.Errorf("layer %s: %s fresh until %d (found %v), want %d: it must not slide", name, k, e.FreshUntil, ok, want)
					}
				}
			}
		})
	}
}

func TestGetManyReadsCountTowardsAdaptiveTTL(t *testing.T) {
	t.Parallel()
	// Four reads of a key make it hot: with HotAfter 2 and a 30 s step, the
	// next write of its 1-minute TTL lengthens it to the 2-minute ceiling.
	for _, tc := range []struct {
		name          string
		gets, bulk    int  // reads through Get and through GetMany
		thenFetchBulk bool // the next write is a GetMany fetch after expiry (else a Set)
	}{
		{"GetMany reads, then Set", 0, 4, false},
		{"GetMany reads, then a bulk fetch", 0, 4, true},
		{"Get and GetMany reads add up", 2, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, clock := newAdaptiveStack(t)
			v := cache.Typed[int](s)
			ctx := context.Background()
			must(t, v.Set(ctx, "hot", 1))
			for range tc.gets {
				if _, err := v.Get(ctx, "hot", nil); err != nil {
					t.Fatal(err)
				}
			}
			for range tc.bulk {
				if got, err := v.GetMany(ctx, []string{"hot"}, nil); err != nil || got["hot"] != 1 {
					t.Fatalf("GetMany = %v, %v; want hot = 1", got, err)
				}
			}
			if tc.thenFetchBulk {
				clock.Advance(time.Minute + time.Second)
				fetch := func(context.Context, []string) (map[string]int, error) { return map[string]int{"hot": 2}, nil }
				if got, err := v.GetMany(ctx, []string{"hot"}, fetch); err != nil || got["hot"] != 2 {
					t.Fatalf("GetMany after expiry = %v, %v; want the fetched hot = 2", got, err)
				}
			} else {
				must(t, v.Set(ctx, "hot", 2))
			}
			if got := ttlOf(t, s, "hot"); got != 2*time.Minute {
				t.Errorf("after %d Get and %d GetMany reads: TTL = %v, want 2m", tc.gets, tc.bulk, got)
			}
		})
	}
}

func TestGetManyRefreshesTheKeysDueInOneBackgroundFetch(t *testing.T) {
	t.Parallel()
	// At 55 s: a and b have 5 s of freshness left, inside a 10 s
	// refresh-ahead window; c has 15 s left; gone is a cached "not found"
	// inside the window, which Get does not refresh either; old went stale
	// at 10 s.
	ahead := 10 * time.Second
	for _, tc := range []struct {
		name     string
		opts     cache.Options
		callOpts []cache.Option
		keys     []string
		want     []string // the background fetch's keys
	}{
		{"Options.RefreshAhead", cache.Options{RefreshAhead: ahead}, nil,
			[]string{"a", "b", "c", "gone"}, []string{"a", "b"}},
		{"per-call RefreshAhead", cache.Options{}, []cache.Option{cache.RefreshAhead(ahead)},
			[]string{"a", "b", "c", "gone"}, []string{"a", "b"}},
		{"stale keys share the fetch", cache.Options{RefreshAhead: ahead, StaleWhileRevalidate: time.Hour}, nil,
			[]string{"a", "old", "b", "c", "gone"}, []string{"a", "old", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := cachetest.NewManualClock()
			opts := tc.opts
			opts.Clock, opts.TTL, opts.NegativeTTL = clock, time.Minute, time.Minute
			s := newStack(t, opts)
			v := cache.Typed[string](s)
			ctx := context.Background()
			must(t, v.Set(ctx, "a", "a1"))
			must(t, v.Set(ctx, "b", "b1"))
			must(t, v.Set(ctx, "old", "old1", cache.TTL(10*time.Second)))
			if _, err := v.GetMany(ctx, []string{"gone"}, notFound); err != nil {
				t.Fatal(err)
			}
			clock.Advance(10 * time.Second)
			must(t, v.Set(ctx, "c", "c1"))
			clock.Advance(45 * time.Second)
			refreshed := refreshEvents(s)

			asked := make(chan []string, 1)
			var calls atomic.Int32
			fetch := func(_ context.Context, keys []string) (map[string]string, error) {
				calls.Add(1)
				asked <- slices.Clone(keys)
				out := map[string]string{}
				for _, k := range keys {
					out[k] = k + "2"
				}
				return out, nil
			}
			got, err := v.GetMany(ctx, tc.keys, fetch, tc.callOpts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.want {
				if got[k] != k+"1" {
					t.Errorf("GetMany[%s] = %q, want the cached %q, served at once", k, got[k], k+"1")
				}
			}
			if n := s.Stats().Refreshes; n != uint64(len(tc.want)) {
				t.Fatalf("GetMany started %d refreshes, want %d (%v)", n, len(tc.want), tc.want)
			}
			if keys := receive(t, asked, "background fetch"); !slices.Equal(keys, tc.want) {
				t.Errorf("the background fetch was asked for %v, want %v", keys, tc.want)
			}
			for range tc.want {
				receive(t, refreshed, "EventRefresh")
			}
			after, err := v.GetMany(ctx, tc.keys, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.want {
				if after[k] != k+"2" {
					t.Errorf("after the refresh %s = %q, want %q", k, after[k], k+"2")
				}
			}
			if after["c"] != "c1" {
				t.Errorf("c, not due, = %q, want c1", after["c"])
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("the bulk fetcher ran %d times, want once", n)
			}
		})
	}
}

func TestGetAndGetManyNeverRefreshAKeyTwiceAtOnce(t *testing.T) {
	t.Parallel()
	// A first call starts a refresh of a that does not end until released;
	// a second call, which finds a (and b) due too, must leave a to it.
	for _, tc := range []struct {
		name                  string
		stale                 bool // a and b are stale (else due for refresh-ahead)
		firstBulk, secondBulk bool // GetMany (else Get)
		wantRefreshes         uint64
		wantAsked             []string // the second GetMany's fetch
	}{
		{"Get refreshing ahead, then GetMany", false, false, true, 2, []string{"b"}},
		{"Get refreshing a stale key, then GetMany", true, false, true, 2, []string{"b"}},
		{"GetMany refreshing ahead, then Get", false, true, false, 1, nil},
		{"GetMany refreshing a stale key, then Get", true, true, false, 1, nil},
		{"GetMany refreshing ahead, then GetMany", false, true, true, 2, []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := cachetest.NewManualClock()
			opts := cache.Options{Clock: clock, TTL: time.Minute, RefreshAhead: 10 * time.Second}
			if tc.stale {
				opts = cache.Options{Clock: clock, TTL: time.Minute, StaleWhileRevalidate: time.Hour}
			}
			s := newStack(t, opts)
			v := cache.Typed[string](s)
			ctx := context.Background()
			must(t, v.Set(ctx, "a", "a1"))
			must(t, v.Set(ctx, "b", "b1"))
			if tc.stale {
				clock.Advance(61 * time.Second)
			} else {
				clock.Advance(55 * time.Second)
			}
			refreshed := refreshEvents(s)

			release := make(chan struct{})
			wait := func(ctx context.Context) error {
				select {
				case <-release:
					return nil
				case <-ctx.Done(): // Close, if the test fails first
					return ctx.Err()
				}
			}
			if tc.firstBulk {
				_, err := v.GetMany(ctx, []string{"a"}, func(ctx context.Context, _ []string) (map[string]string, error) {
					return map[string]string{"a": "a2"}, wait(ctx)
				})
				must(t, err)
			} else {
				_, err := v.Get(ctx, "a", func(ctx context.Context) (string, error) { return "a2", wait(ctx) })
				must(t, err)
			}
			if n := s.Stats().Refreshes; n != 1 {
				t.Fatalf("the first call started %d refreshes, want 1", n)
			}

			asked := make(chan []string, 1)
			var oneCalls atomic.Int32
			if tc.secondBulk {
				_, err := v.GetMany(ctx, []string{"a", "b"}, func(_ context.Context, keys []string) (map[string]string, error) {
					asked <- slices.Clone(keys)
					return nil, nil
				})
				must(t, err)
			} else {
				_, err := v.Get(ctx, "a", counting("a3", &oneCalls))
				must(t, err)
			}
			if n := s.Stats().Refreshes; n != tc.wantRefreshes {
				t.Fatalf("refreshes after the second call = %d, want %d", n, tc.wantRefreshes)
			}
			if tc.secondBulk {
				if keys := receive(t, asked, "background fetch of the second GetMany"); !slices.Equal(keys, tc.wantAsked) {
					t.Errorf("the second GetMany refreshed %v, want %v", keys, tc.wantAsked)
				}
			}
			close(release)
			for range tc.wantRefreshes {
				receive(t, refreshed, "EventRefresh")
			}
			if n := oneCalls.Load(); n != 0 {
				t.Errorf("the second Get's fetcher ran %d times, want none: a was being refreshed", n)
			}
		})
	}
}

func TestCloseCancelsAndWaitsForGetManysRefreshAhead(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute, RefreshAhead: 10 * time.Second})
	v := cache.Typed[string](s)
	ctx := context.Background()
	must(t, v.Set(ctx, "a", "a1"))
	clock.Advance(55 * time.Second)
	started := make(chan struct{})
	var ended atomic.Bool
	_, err := v.GetMany(ctx, []string{"a"}, func(ctx context.Context, _ []string) (map[string]string, error) {
		close(started)
		<-ctx.Done() // only Close ends it
		ended.Store(true)
		return nil, ctx.Err()
	})
	must(t, err)
	if n := s.Stats().Refreshes; n != 1 {
		t.Fatalf("GetMany in the refresh-ahead window started %d refreshes, want 1", n)
	}
	receive(t, started, "background fetch")
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	if !ended.Load() {
		t.Error("Close returned before the background refresh ended")
	}
}
