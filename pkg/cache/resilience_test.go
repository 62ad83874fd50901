package cache_test

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/breaker"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/ratelimit"
)

func TestBreakerTripsServesStaleAndRecoversThroughHalfOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := cachetest.NewManualClock()
	br, err := breaker.New(breaker.Options{ConsecutiveFailures: 2, OpenFor: time.Minute, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	// The upstream is slow: each fetch runs into FetchTimeout until it
	// recovers. Timeouts count as failures for the breaker.
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Second, StaleIfError: time.Hour, Breaker: br,
		FetchTimeout: time.Millisecond})
	v := cache.Typed[string](s)
	must(t, v.Set(ctx, "k", "stale-but-good"))
	clock.Advance(2 * time.Second) // stale, inside stale-if-error

	var upstreamCalls atomic.Int32
	upstreamUp := atomic.Bool{}
	fetch := func(ctx context.Context) (string, error) {
		upstreamCalls.Add(1)
		if !upstreamUp.Load() {
			<-ctx.Done() // slow: never answers before the fetch timeout
			return "", ctx.Err()
		}
		return "fresh", nil
	}
	// Two failures trip the breaker; the stale value is served each time.
	for range 2 {
		if got, err := v.Get(ctx, "k", fetch); err != nil || got != "stale-but-good" {
			t.Fatalf("Get while upstream fails = %q, %v; want the stale value", got, err)
		}
	}
	if st := br.State("key:k"); st != breaker.Open {
		t.Fatalf("breaker state = %v, want open", st)
	}
	// Open: the upstream is not called, the stale value is still served.
	calls := upstreamCalls.Load()
	if got, _ := v.Get(ctx, "k", fetch); got != "stale-but-good" || upstreamCalls.Load() != calls {
		t.Fatalf("open breaker: Get = %q, upstream calls %d -> %d; want stale and no call", got, calls, upstreamCalls.Load())
	}
	if s.Stats().BreakerOpen == 0 {
		t.Error("BreakerOpen counter did not move")
	}
	// After OpenFor the breaker lets a probe through; it succeeds and closes.
	upstreamUp.Store(true)
	clock.Advance(2 * time.Minute)
	if got, err := v.Get(ctx, "k", fetch); err != nil || got != "fresh" {
		t.Fatalf("half-open probe: Get = %q, %v; want fresh", got, err)
	}
	if st := br.State("key:k"); st != breaker.Closed {
		t.Fatalf("breaker after a good probe = %v, want closed", st)
	}
}

func TestOpenBreakerWithoutStaleValueReturnsItsError(t *testing.T) {
	t.Parallel()
	br, err := breaker.New(breaker.Options{ConsecutiveFailures: 1, OpenFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	v := cache.Typed[int](newStack(t, cache.Options{Breaker: br, BreakerScope: cache.ScopeShared}))
	ctx := context.Background()
	_, _ = v.Get(ctx, "a", func(context.Context) (int, error) { return 0, errors.New("down") })
	_, err = v.Get(ctx, "b", func(context.Context) (int, error) { return 1, nil })
	var open *breaker.OpenError
	if !errors.As(err, &open) || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Get behind a shared open breaker = %v, want *breaker.OpenError", err)
	}
}

func TestRateLimiterOverflowRejectsFetches(t *testing.T) {
	t.Parallel()
	rl, err := ratelimit.New(ratelimit.Options{Rate: math.Inf(1), MaxConcurrent: 1, MaxQueue: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, cache.Options{RateLimiter: rl})
	v := cache.Typed[int](s)
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	done := make(chan error, 2)
	go func() {
		_, err := v.Get(ctx, "slow", func(context.Context) (int, error) { close(started); <-release; return 1, nil })
		done <- err
	}()
	<-started // holds the only concurrency slot
	queued := make(chan struct{})
	go func() {
		close(queued)
		_, err := v.Get(ctx, "queued", func(context.Context) (int, error) { return 2, nil })
		done <- err
	}()
	<-queued
	// Wait until the second fetch occupies the queue's single place.
	for rl.Stats().Waiting < 1 {
		if t.Context().Err() != nil {
			t.Fatal("the second fetch never queued")
		}
		runtime.Gosched()
	}
	_, err = v.Get(ctx, "third", func(context.Context) (int, error) { return 3, nil })
	if !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("Get past the queue = %v, want ErrLimited", err)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if s.Stats().RateLimited != 1 {
		t.Errorf("RateLimited = %d, want 1", s.Stats().RateLimited)
	}
}
