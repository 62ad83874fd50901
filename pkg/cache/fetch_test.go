package cache_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
)

func TestStampedeOfTenThousandCallersFetchesOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	v := cache.Typed[int](s)
	var calls atomic.Int32
	const callers = 10_000
	start := make(chan struct{})
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for range callers {
		wg.Go(func() {
			<-start
			got, err := v.Get(context.Background(), "cold", func(context.Context) (int, error) {
				calls.Add(1)
				return 42, nil
			})
			if err != nil || got != 42 {
				wrong.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("fetcher called %d times for %d concurrent callers, want 1", n, callers)
	}
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d callers got a wrong result", n)
	}
	st := s.Stats()
	if st.Hits+st.Misses != callers || st.Fetches != 1 {
		t.Errorf("stats: hits %d + misses %d, fetches %d; want %d reads and 1 fetch", st.Hits, st.Misses, st.Fetches, callers)
	}
}

func TestCallerCancellationDoesNotCancelSharedFetch(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	v := cache.Typed[string](s)
	release := make(chan struct{})
	started := make(chan struct{})
	fetch := func(ctx context.Context) (string, error) {
		close(started)
		select {
		case <-release:
			return "done", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := v.Get(leaderCtx, "k", fetch)
		leaderErr <- err
	}()
	<-started
	follower := make(chan string, 1)
	go func() {
		got, _ := v.Get(context.Background(), "k", fetch)
		follower <- got
	}()
	for s.Waiting("k") < 2 { // the follower has joined the leader's fetch
		if t.Context().Err() != nil {
			t.Fatal("the follower never joined the fetch")
		}
		runtime.Gosched()
	}
	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader error = %v, want context.Canceled", err)
	}
	close(release)
	if got := <-follower; got != "done" {
		t.Fatalf("follower got %q, want done (the fetch must survive the leader's cancellation)", got)
	}
}

func TestFetcherPanicBecomesAnErrorForEveryCaller(t *testing.T) {
	t.Parallel()
	v := cache.Typed[int](newStack(t, cache.Options{}))
	_, err := v.Get(context.Background(), "k", func(context.Context) (int, error) { panic("boom") })
	var pe *cache.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("Get error = %v, want *PanicError(boom)", err)
	}
	got, err := v.Get(context.Background(), "k", func(context.Context) (int, error) { return 3, nil })
	if err != nil || got != 3 {
		t.Fatalf("after a panic, Get = %d, %v; want 3 (the key must not be stuck)", got, err)
	}
}

func TestFetchTimeoutReturnsTimeoutError(t *testing.T) {
	t.Parallel()
	v := cache.Typed[int](newStack(t, cache.Options{FetchTimeout: time.Millisecond}))
	_, err := v.Get(context.Background(), "k", func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	var te *cache.TimeoutError
	if !errors.As(err, &te) || te.Key != "k" {
		t.Fatalf("Get error = %v, want *TimeoutError for k", err)
	}
}

func TestCloseCancelsRunningFetches(t *testing.T) {
	t.Parallel()
	// Each case starts one fetch that blocks until its context ends, through
	// one of the ways a fetch runs: a Get's single flight (on the caller's
	// goroutine when its context cannot end, else on the flight's), a GetMany
	// bulk fetch (on the caller's goroutine, outside the flight), and a
	// stale-while-revalidate refresh (no caller at all).
	for _, tc := range []struct {
		name  string
		start func(s *cache.Stack, clock *cachetest.ManualClock, fetch func(ctx context.Context) error) error
	}{
		{"get", func(s *cache.Stack, _ *cachetest.ManualClock, fetch func(context.Context) error) error {
			_, err := cache.Typed[int](s).Get(context.Background(), "k", func(ctx context.Context) (int, error) {
				return 0, fetch(ctx)
			})
			return err
		}},
		{"get with a request's context", func(s *cache.Stack, _ *cachetest.ManualClock, fetch func(context.Context) error) error {
			// A context that can end: the fetch runs on a goroutine of the
			// flight's rather than on the caller's.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := cache.Typed[int](s).Get(ctx, "k", func(ctx context.Context) (int, error) {
				return 0, fetch(ctx)
			})
			return err
		}},
		{"get many", func(s *cache.Stack, _ *cachetest.ManualClock, fetch func(context.Context) error) error {
			_, err := cache.Typed[int](s).GetMany(context.Background(), []string{"a", "b"},
				func(ctx context.Context, _ []string) (map[string]int, error) { return nil, fetch(ctx) })
			return err
		}},
		{"refresh", func(s *cache.Stack, clock *cachetest.ManualClock, fetch func(context.Context) error) error {
			refreshed := make(chan error, 1)
			s.Subscribe(func(e cache.Event) {
				if e.Type == cache.EventRefresh {
					refreshed <- e.Err
				}
			})
			v := cache.Typed[int](s)
			if err := v.Set(context.Background(), "k", 1, cache.TTL(time.Minute), cache.StaleWhileRevalidate(time.Hour)); err != nil {
				return err
			}
			clock.Advance(2 * time.Minute)
			// The stale value comes back at once; the refresh runs behind it.
			if _, err := v.Get(context.Background(), "k", func(ctx context.Context) (int, error) {
				return 0, fetch(ctx)
			}); err != nil {
				return err
			}
			return <-refreshed
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := cachetest.NewManualClock()
			s, err := cache.New(context.Background(), []cache.Layer{newMemory(t, "m", nil)}, cache.Options{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			started := make(chan struct{})
			var once sync.Once
			done := make(chan error, 1)
			go func() {
				done <- tc.start(s, clock, func(ctx context.Context) error {
					once.Do(func() { close(started) })
					<-ctx.Done()
					return ctx.Err()
				})
			}()
			<-started
			if err := s.Close(context.Background()); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("fetch error after Close = %v, want context.Canceled", err)
			}
		})
	}
}

func TestNegativeCachingStoresAbsenceForItsOwnTTL(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Hour, NegativeTTL: time.Minute})
	v := cache.Typed[string](s)
	var calls atomic.Int32
	notFound := func(context.Context) (string, error) {
		calls.Add(1)
		return "", cache.ErrNotFound
	}
	for range 2 {
		if _, err := v.Get(context.Background(), "ghost", notFound); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get(ghost) error = %v, want ErrNotFound", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("fetcher called %d times, want 1 (absence cached)", n)
	}
	if ok, _ := s.Has(context.Background(), "ghost"); ok {
		t.Error("Has(ghost) = true for a cached absence, want false")
	}
	clock.Advance(2 * time.Minute) // past the negative TTL, well within TTL
	if _, err := v.Get(context.Background(), "ghost", notFound); !errors.Is(err, cache.ErrNotFound) {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("fetcher called %d times after the negative TTL, want 2", n)
	}
	if st := s.Stats(); st.NegativeHits != 1 || st.FetchErrors != 0 {
		t.Errorf("stats: negative hits %d, fetch errors %d; want 1, 0", st.NegativeHits, st.FetchErrors)
	}
}

func TestNilValueIsCachedAsAValue(t *testing.T) {
	t.Parallel()
	v := cache.Typed[*int](newStack(t, cache.Options{}))
	var calls atomic.Int32
	for range 2 {
		got, err := v.Get(context.Background(), "nil", counting[*int](nil, &calls))
		if err != nil || got != nil {
			t.Fatalf("Get = %v, %v; want nil, nil", got, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("fetcher called %d times, want 1 (nil is a value)", n)
	}
}

func TestStaleWhileRevalidateServesStaleAndRefreshesOnce(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute, StaleWhileRevalidate: time.Minute})
	v := cache.Typed[string](s)
	ctx := context.Background()
	if err := v.Set(ctx, "k", "old"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(90 * time.Second) // stale, inside the SWR window
	refreshed := make(chan struct{})
	unsubscribe := s.Subscribe(func(e cache.Event) {
		if e.Type == cache.EventRefresh {
			close(refreshed)
		}
	})
	defer unsubscribe()
	release := make(chan struct{})
	var calls atomic.Int32
	fetch := func(context.Context) (string, error) {
		calls.Add(1)
		<-release
		return "new", nil
	}
	for range 5 {
		got, err := v.Get(ctx, "k", fetch)
		if err != nil || got != "old" {
			t.Fatalf("Get in SWR window = %q, %v; want old, nil", got, err)
		}
	}
	close(release)
	<-refreshed
	if n := calls.Load(); n != 1 {
		t.Fatalf("refresh fetched %d times, want 1", n)
	}
	if got, _ := v.Get(ctx, "k", nil); got != "new" {
		t.Fatalf("Get after refresh = %q, want new", got)
	}
	if st := s.Stats(); st.StaleHits != 5 || st.Refreshes != 1 {
		t.Errorf("stats: stale hits %d, refreshes %d; want 5, 1", st.StaleHits, st.Refreshes)
	}
}

func TestStaleIfErrorServesStaleWhenFetchFails(t *testing.T) {
	t.Parallel()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute, StaleIfError: time.Hour})
	v := cache.Typed[string](s)
	ctx := context.Background()
	if err := v.Set(ctx, "k", "old"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	got, err := v.Get(ctx, "k", func(context.Context) (string, error) { return "", errors.New("upstream down") })
	if err != nil || got != "old" {
		t.Fatalf("Get with failing fetcher = %q, %v; want old, nil", got, err)
	}
	got, err = v.Get(ctx, "k", func(context.Context) (string, error) { return "new", nil })
	if err != nil || got != "new" {
		t.Fatalf("Get with working fetcher = %q, %v; want new, nil", got, err)
	}
	if st := s.Stats(); st.StaleHits != 1 || st.RefreshErrors != 1 {
		t.Errorf("stats: stale hits %d, refresh errors %d; want 1, 1", st.StaleHits, st.RefreshErrors)
	}
}

func TestCloseWhileGetsRunNeitherPanicsNorLeaves(t *testing.T) {
	t.Parallel()
	// Gets that passed the closed check just before Close still start
	// fetches while Close waits for the running ones; Close must wait for
	// them (goleak checks nothing is left) and must not panic (it did, from a
	// WaitGroup, when a fetch started just as the count reached zero).
	for range 100 {
		s, err := cache.New(context.Background(), []cache.Layer{newMemory(t, "m", nil)}, cache.Options{})
		if err != nil {
			t.Fatal(err)
		}
		v := cache.Typed[int](s)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				if g%2 == 1 {
					ctx = t.Context() // fetches on the flight's goroutines
				}
				for i := 0; ; i++ {
					_, err := v.Get(ctx, fmt.Sprintf("k%d-%d", g, i), func(context.Context) (int, error) {
						time.Sleep(50 * time.Microsecond) // so that Close finds fetches to wait for
						return i, nil
					})
					if errors.Is(err, cache.ErrClosed) {
						return
					}
				}
			}()
		}
		time.Sleep(time.Millisecond) // let the Gets get going
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
}

func TestALayerWithNegativeTTLZeroCachesNoAbsence(t *testing.T) {
	t.Parallel()
	// Negative caching is on for the Stack (5 s) and off for l2 (0): l2
	// must not keep the "not found" (a zero deadline would mean forever),
	// so once l1's negative entry expires the key is fetched again.
	clock := cachetest.NewManualClock()
	zero := time.Duration(0)
	l1, l2 := newMemory(t, "l1", clock), newMemory(t, "l2", clock)
	s := newStack(t, cache.Options{Clock: clock, NegativeTTL: 5 * time.Second,
		Layers: map[string]cache.LayerOptions{"l2": {NegativeTTL: &zero}}}, l1, l2)
	v := cache.Typed[int](s)
	ctx := context.Background()
	var calls atomic.Int32
	notFound := func(context.Context) (int, error) { calls.Add(1); return 0, cache.ErrNotFound }
	if _, err := v.Get(ctx, "k", notFound); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("first Get = %v, want ErrNotFound", err)
	}
	if _, ok, _ := l2.Get(ctx, "k"); ok {
		t.Error("l2 holds a negative entry although its NegativeTTL is 0")
	}
	if _, err := v.Get(ctx, "k", notFound); !errors.Is(err, cache.ErrNotFound) || calls.Load() != 1 {
		t.Fatalf("Get within l1's 5 s = %v after %d fetches, want ErrNotFound from l1 without a fetch", err, calls.Load())
	}
	clock.Advance(time.Minute)
	if _, err := v.Get(ctx, "k", notFound); !errors.Is(err, cache.ErrNotFound) || calls.Load() != 2 {
		t.Fatalf("Get a minute later = %v after %d fetches, want a second fetch", err, calls.Load())
	}
}
