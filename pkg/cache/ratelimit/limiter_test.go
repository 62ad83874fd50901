package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/layercache/layercache/pkg/cache/ratelimit"
)

// Rates used by the tests. With huge, a token is always there, so only
// MaxConcurrent and MaxQueue can make a caller wait; with tiny (one token a
// century) and Burst 1, every caller after the first waits until its
// context ends. Neither needs a timing assertion.
const (
	huge = 1e9
	tiny = 1.0 / (100 * 365 * 24 * 3600)
)

func newLimiter(t *testing.T, o ratelimit.Options) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return l
}

// acquire fails the test unless Acquire admits the call at once.
func acquire(t *testing.T, l *ratelimit.Limiter, bucket string) func() {
	t.Helper()
	release, err := l.Acquire(context.Background(), bucket)
	if err != nil {
		t.Fatalf("Acquire(%q): %v, want the call admitted", bucket, err)
	}
	return release
}

// hasToken reports whether bucket would admit a call now, without waiting:
// a context whose deadline is before the next refill makes Acquire answer
// at once. Call it in a synctest bubble, where the deadline cannot pass
// before Acquire looks at it.
func hasToken(t *testing.T, l *ratelimit.Limiter, bucket string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	release, err := l.Acquire(ctx, bucket)
	if err == nil {
		release()
		return true
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire(%q) with a deadline: %v, want nil or a deadline error", bucket, err)
	}
	return false
}

// waiter runs Acquire on its own goroutine; its result arrives on done.
type waiter struct {
	cancel  context.CancelFunc
	done    chan error
	release func()
}

func startWaiter(l *ratelimit.Limiter, bucket string) *waiter {
	ctx, cancel := context.WithCancel(context.Background())
	w := &waiter{cancel: cancel, done: make(chan error, 1)}
	go func() {
		release, err := l.Acquire(ctx, bucket)
		w.release = release
		w.done <- err
	}()
	return w
}

// returned reports whether w's Acquire has returned, without blocking.
func (w *waiter) returned() bool { return len(w.done) > 0 }

func wantLimited(t *testing.T, err error, bucket string, reason ratelimit.Reason) {
	t.Helper()
	var le *ratelimit.LimitedError
	if !errors.As(err, &le) || !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("Acquire(%q) = %v, want a *LimitedError", bucket, err)
	}
	if le.Bucket != bucket || le.Reason != reason {
		t.Fatalf("LimitedError = %+v, want bucket %q, reason %s", *le, bucket, reason)
	}
}

func TestNewRejectsInvalidOptions(t *testing.T) {
	cases := []struct {
		name  string
		opts  ratelimit.Options
		field string
	}{
		{"zero options", ratelimit.Options{}, "Rate"},
		{"negative rate", ratelimit.Options{Rate: -1}, "Rate"},
		{"NaN rate", ratelimit.Options{Rate: math.NaN()}, "Rate"},
		{"rate too large", ratelimit.Options{Rate: 1e300}, "Rate"},
		{"negative burst", ratelimit.Options{Rate: 1, Burst: -1}, "Burst"},
		{"negative concurrency", ratelimit.Options{Rate: 1, MaxConcurrent: -1}, "MaxConcurrent"},
		{"negative queue", ratelimit.Options{Rate: 1, MaxQueue: -1}, "MaxQueue"},
		{"unknown overflow", ratelimit.Options{Rate: 1, Overflow: 9}, "Overflow"},
		{"negative buckets", ratelimit.Options{Rate: 1, MaxBuckets: -1}, "MaxBuckets"},
	}
	for _, tc := range cases {
		l, err := ratelimit.New(tc.opts)
		if err == nil {
			t.Errorf("%s: New(%+v) = %v, nil; want an error", tc.name, tc.opts, l)
			continue
		}
		if !strings.HasPrefix(err.Error(), "ratelimit: ") || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: New error %q should start with \"ratelimit: \" and name %s", tc.name, err, tc.field)
		}
	}
	if _, err := ratelimit.New(ratelimit.Options{Rate: math.Inf(1)}); err != nil {
		t.Errorf("New with an infinite Rate: %v", err)
	}
}

func TestDefaultBurstIsOneSecondOfTokens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: 2.5})
		for i := range 3 {
			if !hasToken(t, l, "b") {
				t.Fatalf("call %d of the first burst refused; want ceil(2.5) = 3 admitted at once", i+1)
			}
		}
		if hasToken(t, l, "b") {
			t.Fatal("4th call at once admitted; want the burst to be 3")
		}
	})
}

func TestQueueOverflowRejects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: tiny, Burst: 1, MaxQueue: 2})
		defer acquire(t, l, "b")() // takes the only token
		w1, w2 := startWaiter(l, "b"), startWaiter(l, "b")
		synctest.Wait()
		if w1.returned() || w2.returned() {
			t.Fatal("a caller with no token did not wait")
		}
		if st := l.Stats(); st.Waiting != 2 {
			t.Fatalf("Stats.Waiting = %d, want 2", st.Waiting)
		}

		_, err := l.Acquire(context.Background(), "b")
		wantLimited(t, err, "b", ratelimit.QueueFull)
		if want := `ratelimit: bucket "b": queue full (2 waiting)`; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}

		w1.cancel()
		w2.cancel()
		for _, w := range []*waiter{w1, w2} {
			if err := <-w.done; !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "ratelimit: ") {
				t.Errorf("cancelled waiter got %v, want a ratelimit error wrapping context.Canceled", err)
			}
		}
		st := l.Stats()
		want := ratelimit.Stats{Admitted: 1, Rejected: 1, Canceled: 2, Waiting: 0, Buckets: 1}
		if st != want {
			t.Errorf("Stats = %+v, want %+v", st, want)
		}
	})
}

func TestCallersAdmittedAtOnceDoNotQueue(t *testing.T) {
	const callers = 50
	l := newLimiter(t, ratelimit.Options{Rate: huge, MaxQueue: 1})
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			<-start
			release, err := l.Acquire(context.Background(), "b")
			if err != nil {
				t.Errorf("Acquire with a token and no bound on concurrency: %v", err)
				return
			}
			release()
		})
	}
	close(start)
	wg.Wait()
	if st := l.Stats(); st.Admitted != callers || st.Rejected != 0 {
		t.Errorf("Stats = %+v, want %d admitted, none rejected", st, callers)
	}
}

func TestQueueOverflowBypasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: tiny, Burst: 1, MaxQueue: 1, MaxConcurrent: 1, Overflow: ratelimit.Bypass})
		defer acquire(t, l, "b")() // takes the only token and slot
		w := startWaiter(l, "b")
		synctest.Wait()

		release, err := l.Acquire(context.Background(), "b")
		if err != nil {
			t.Fatalf("Acquire on a full queue with Bypass: %v, want the call let through", err)
		}
		release()
		release()
		if w.returned() {
			t.Error("releasing a bypassed call let a waiter through; it must not free a slot")
		}
		w.cancel()
		if err := <-w.done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled waiter got %v, want context.Canceled", err)
		}
		st := l.Stats()
		if st.Bypassed != 1 || st.Admitted != 1 || st.Rejected != 0 {
			t.Errorf("Stats = %+v, want 1 bypassed, 1 admitted, 0 rejected", st)
		}
	})
}

func TestCancelWhileQueuedFreesTheQueuePlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: tiny, Burst: 1, MaxQueue: 1})
		defer acquire(t, l, "b")()
		w := startWaiter(l, "b")
		synctest.Wait()
		_, err := l.Acquire(context.Background(), "b")
		wantLimited(t, err, "b", ratelimit.QueueFull)

		w.cancel()
		if err := <-w.done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter got %v, want context.Canceled", err)
		}
		w2 := startWaiter(l, "b")
		synctest.Wait()
		if w2.returned() {
			t.Fatalf("caller after the cancelled one returned early: %v", <-w2.done)
		}
		w2.cancel()
		if err := <-w2.done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled waiter got %v, want context.Canceled", err)
		}
	})
}

func TestCancelWhileWaitingForSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: huge, MaxConcurrent: 1, MaxQueue: 1})
		release := acquire(t, l, "b")
		w := startWaiter(l, "b")
		synctest.Wait()
		if w.returned() {
			t.Fatal("second call admitted while the only slot was held")
		}
		w.cancel()
		if err := <-w.done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter got %v, want context.Canceled", err)
		}
		// The cancelled caller took no slot: after release, one is free.
		release()
		acquire(t, l, "b")()
	})
}

func TestCancelWhileWaitingForTokenGivesBackTheSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: tiny, Burst: 1, MaxConcurrent: 1})
		acquire(t, l, "b")()     // uses the only token, frees the slot
		w := startWaiter(l, "b") // takes the slot, waits for a token
		synctest.Wait()
		w.cancel()
		if err := <-w.done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter got %v, want context.Canceled", err)
		}
		// With the slot given back, a caller with a short deadline is
		// refused at once for want of a token; with the slot kept, it
		// would wait for its deadline.
		start := time.Now()
		if hasToken(t, l, "b") {
			t.Fatal("bucket b has a second token")
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Acquire waited %s for a slot; the cancelled caller kept it", d)
		}
	})
}

func TestMaxConcurrentIsEnforced(t *testing.T) {
	const maxConcurrent, callers = 3, 20
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: huge, MaxConcurrent: maxConcurrent})
		var inFlight, peak atomic.Int32
		entered := make(chan struct{}, callers)
		hold := make(chan struct{})
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				release, err := l.Acquire(context.Background(), "b")
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				defer release()
				n := inFlight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				entered <- struct{}{}
				<-hold
				inFlight.Add(-1)
			})
		}
		synctest.Wait()
		if n := len(entered); n != maxConcurrent {
			t.Fatalf("%d calls in flight with MaxConcurrent %d", n, maxConcurrent)
		}
		if st := l.Stats(); st.Waiting != callers-maxConcurrent {
			t.Errorf("Stats.Waiting = %d, want %d", st.Waiting, callers-maxConcurrent)
		}
		close(hold)
		wg.Wait()
		if p := peak.Load(); p != maxConcurrent {
			t.Errorf("peak calls in flight = %d, want %d", p, maxConcurrent)
		}
		if st := l.Stats(); st.Admitted != callers || st.Waiting != 0 {
			t.Errorf("Stats = %+v, want %d admitted and none waiting", st, callers)
		}
	})
}

func TestReleaseTwiceFreesOneSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: huge, MaxConcurrent: 1})
		release := acquire(t, l, "b")
		release()
		release() // must not free a slot it does not hold (or block)
		held := acquire(t, l, "b")
		w := startWaiter(l, "b")
		synctest.Wait()
		if w.returned() {
			t.Fatal("two calls in flight with MaxConcurrent 1 after a double release")
		}
		held()
		if err := <-w.done; err != nil {
			t.Fatalf("waiter after release: %v", err)
		}
		w.release()
		w.cancel()
	})
}

func TestBucketsAreIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: tiny, Burst: 1, MaxConcurrent: 1})
		defer acquire(t, l, "a")()
		if hasToken(t, l, "a") {
			t.Fatal("bucket a admitted a second call; want its one token used")
		}
		release, err := l.Acquire(context.Background(), "b")
		if err != nil {
			t.Fatalf("bucket b: %v; want it unaffected by a", err)
		}
		release()
		if st := l.Stats(); st.Buckets != 2 {
			t.Errorf("Stats.Buckets = %d, want 2", st.Buckets)
		}
	})
}

func TestMaxBucketsDropsLeastRecentlyUsedIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: tiny, Burst: 1, MaxBuckets: 2})
		acquire(t, l, "a")() // a and b use their tokens and go idle
		acquire(t, l, "b")()
		if hasToken(t, l, "a") { // a is now the more recently used
			t.Fatal("bucket a has a second token")
		}
		acquire(t, l, "c")() // drops b, the least recently used idle bucket
		if st := l.Stats(); st.Buckets != 2 {
			t.Errorf("Stats.Buckets = %d, want 2", st.Buckets)
		}
		if !hasToken(t, l, "b") {
			t.Error("bucket b kept its used token; want it dropped and made anew")
		}
	})
}

func TestMaxBucketsAllBusyOverflows(t *testing.T) {
	for _, overflow := range []ratelimit.Overflow{ratelimit.Reject, ratelimit.Bypass} {
		l := newLimiter(t, ratelimit.Options{Rate: huge, MaxBuckets: 2, Overflow: overflow})
		ra, rb := acquire(t, l, "a"), acquire(t, l, "b") // both in flight: neither can go
		release, err := l.Acquire(context.Background(), "c")
		switch overflow {
		case ratelimit.Reject:
			wantLimited(t, err, "c", ratelimit.BucketsFull)
		case ratelimit.Bypass:
			if err != nil {
				t.Fatalf("%s: Acquire(c) with every bucket busy: %v", overflow, err)
			}
			release()
		}
		ra()
		acquire(t, l, "c")() // a is idle now and makes room
		rb()
		st := l.Stats()
		if st.Buckets != 2 || st.Rejected+st.Bypassed != 1 {
			t.Errorf("%s: Stats = %+v, want 2 buckets and 1 overflow", overflow, st)
		}
	}
}

func TestCancelledContextIsRefusedAtOnce(t *testing.T) {
	l := newLimiter(t, ratelimit.Options{Rate: huge})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(ctx, "b"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with a cancelled context = %v, want context.Canceled", err)
	}
	if st := l.Stats(); st.Canceled != 1 || st.Buckets != 0 {
		t.Errorf("Stats = %+v, want 1 cancelled and no bucket made", st)
	}
}

func TestDeadlineBeforeTokenFailsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: tiny, Burst: 1})
		defer acquire(t, l, "b")()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		_, err := l.Acquire(ctx, "b")
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ratelimit.ErrLimited) {
			t.Fatalf("Acquire with a deadline before the next token = %v, want context.DeadlineExceeded", err)
		}
		if ctx.Err() != nil {
			t.Fatal("Acquire waited for the deadline; want it to fail at once")
		}
		if st := l.Stats(); st.Waiting != 0 || st.Canceled != 1 {
			t.Errorf("Stats = %+v, want none waiting and 1 cancelled", st)
		}
	})
}

// TestRateIsRespected runs in a synctest bubble, whose clock x/time/rate
// reads, so the times are exact.
func TestRateIsRespected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: 10, Burst: 2})
		start := time.Now()
		for range 6 {
			acquire(t, l, "b")()
		}
		// 2 at once from the burst, then one per 100ms.
		if got, want := time.Since(start), 400*time.Millisecond; got != want {
			t.Errorf("6 calls at Rate 10, Burst 2 took %s, want %s", got, want)
		}
	})
}

func TestInfiniteRateLimitsConcurrencyOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, ratelimit.Options{Rate: math.Inf(1), MaxConcurrent: 1})
		start := time.Now()
		for range 100 {
			acquire(t, l, "b")()
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("100 calls with an infinite Rate took %s, want no wait", d)
		}
		held := acquire(t, l, "b")
		w := startWaiter(l, "b")
		synctest.Wait()
		if w.returned() {
			t.Fatal("MaxConcurrent 1 let a second call through")
		}
		held()
		if err := <-w.done; err != nil {
			t.Fatal(err)
		}
		w.release()
		w.cancel()
	})
}

func TestStrings(t *testing.T) {
	for got, want := range map[string]string{
		ratelimit.Reject.String(): "reject", ratelimit.Bypass.String(): "bypass", ratelimit.Overflow(7).String(): "Overflow(7)",
		ratelimit.QueueFull.String(): "queue full", ratelimit.BucketsFull.String(): "buckets full", ratelimit.Reason(0).String(): "Reason(0)",
	} {
		if got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	err := &ratelimit.LimitedError{Bucket: "c", Reason: ratelimit.BucketsFull, Limit: 10}
	if want := `ratelimit: bucket "c": all 10 buckets are busy`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

// TestConcurrentUse is for the race detector: many callers on a few
// buckets, with small bounds so that every path (admit, queue, overflow,
// cancel, drop a bucket) runs.
func TestConcurrentUse(t *testing.T) {
	for _, overflow := range []ratelimit.Overflow{ratelimit.Reject, ratelimit.Bypass} {
		l := newLimiter(t, ratelimit.Options{Rate: huge, MaxConcurrent: 2, MaxQueue: 3, MaxBuckets: 3, Overflow: overflow})
		var inFlight [5]atomic.Int32
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 500 {
					k := (g + i) % 5
					ctx, cancel := context.WithCancel(context.Background())
					if i%7 == 0 {
						cancel()
					}
					release, err := l.Acquire(ctx, "b"+strconv.Itoa(k))
					if err == nil {
						if n := inFlight[k].Add(1); n > 2 && overflow == ratelimit.Reject {
							t.Errorf("bucket %d: %d calls in flight, MaxConcurrent 2", k, n)
						}
						_ = l.Stats()
						inFlight[k].Add(-1)
						release()
					} else if !errors.Is(err, ratelimit.ErrLimited) && !errors.Is(err, context.Canceled) {
						t.Errorf("Acquire: %v", err)
					}
					cancel()
				}
			})
		}
		wg.Wait()
		st := l.Stats()
		if st.Waiting != 0 || st.Buckets > 3 {
			t.Errorf("%s: after the run, Stats = %+v, want none waiting and at most 3 buckets", overflow, st)
		}
		if got := st.Admitted + st.Rejected + st.Bypassed + st.Canceled; got != 8*500 {
			t.Errorf("%s: Stats = %+v count %d calls, want %d", overflow, st, got, 8*500)
		}
	}
}
