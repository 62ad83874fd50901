package redisflight_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisflight"
)

func TestDo_twoInstancesFetchOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	observed := newSignals()
	var coords []*redisflight.Coordinator
	for range 2 { // two instances: two clients, two coordinators
		c := newCoordinator(t, srv.NewClient(t), prefix)
		redisflight.SetHooks(c, observed.hook, nil)
		coords = append(coords, c)
	}
	stampede(t, coords, observed, "user:42", 50)
	// A later flight of the same key fetches again: results are not a cache.
	stampede(t, coords, observed, "user:42", 10)
}

func TestDo_outcomesReachWaiters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		res  cache.Result
	}{
		{"value", cache.Result{Payload: []byte("v")}},
		{"empty value", cache.Result{}},
		{"not found", cache.Result{NotFound: true}},
		{"error", cache.Result{Err: "origin: 503 Service Unavailable"}},
		{"binary", cache.Result{Payload: []byte("\x00:1:2:\xff")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			leader, waiter, waiting := leaderAndWaiter(t)

			started := make(chan struct{})
			lo := goDo(ctx, t, leader, "k", func(ctx context.Context) cache.Result {
				close(started)
				if err := waiting.await(ctx, 1, "waiter"); err != nil {
					return cache.Result{Err: err.Error()}
				}
				return tc.res
			})
			waitFor(ctx, t, started, "leader's fetch started")
			wo := goDo(ctx, t, waiter, "k", mustNotFetch(t, "waiter"))

			for _, c := range []struct {
				who string
				out <-chan outcome
			}{{"leader", lo}, {"waiter", wo}} {
				o, who := receive(ctx, t, c.out, c.who), c.who
				if o.err != nil || o.res.NotFound != tc.res.NotFound || o.res.Err != tc.res.Err ||
					string(o.res.Payload) != string(tc.res.Payload) {
					t.Errorf("%s: got (%+v, %v), want (%+v, nil)", who, o.res, o.err, tc.res)
				}
			}
		})
	}
}

func TestDo_takesOverFromDeadLeader(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	// A leader that died: its lease is there, nobody renews it.
	c := afterDeadLeader(ctx, t, "k")
	waiting := newSignals()
	redisflight.SetHooks(c, nil, waiting.hook)

	var fetches atomic.Int32
	o := receive(ctx, t, goDo(ctx, t, c, "k", func(context.Context) cache.Result {
		fetches.Add(1)
		return cache.Result{Payload: []byte("fetched after takeover")}
	}), "waiter")
	wantPayload(t, "waiter", o, "fetched after takeover")
	if len(waiting) != 1 {
		t.Errorf("the caller waited %d times before taking over, want 1", len(waiting))
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

func TestDo_abandonedLeadershipHandsOver(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	// The default 30s lease outlasts the test: only a release lets the
	// waiter take over in time.
	leader, waiter, waiting := leaderAndWaiter(t)

	leaderCtx, leave := context.WithCancel(ctx)
	defer leave()
	started := make(chan struct{})
	lo := goDo(leaderCtx, t, leader, "k", func(ctx context.Context) cache.Result {
		close(started)
		<-ctx.Done()
		return cache.Result{Err: ctx.Err().Error()}
	})
	waitFor(ctx, t, started, "leader's fetch started")
	wo := goDo(ctx, t, waiter, "k", func(context.Context) cache.Result {
		return cache.Result{Payload: []byte("second leader")}
	})
	waiting.mustAwait(ctx, t, 1, "waiter")
	leave()

	if o := receive(ctx, t, lo, "leader"); !errors.Is(o.err, context.Canceled) {
		t.Errorf("abandoning leader: got (%+v, %v), want context.Canceled", o.res, o.err)
	}
	wantPayload(t, "waiter", receive(ctx, t, wo, "waiter"), "second leader")
}

func TestDo_lateWaiterReadsStoredResult(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	leader := newCoordinator(t, srv.NewClient(t), prefix)
	late := newCoordinator(t, srv.NewClient(t), prefix)
	// The late waiter sees the lease, then stalls until the leader has
	// published and gone, so it subscribes after the announcement.
	observed, proceed := newSignals(), make(chan struct{})
	redisflight.SetHooks(late, func(key string) {
		observed.hook(key)
		select {
		case <-proceed:
		case <-ctx.Done():
		}
	}, nil)

	started, finish := make(chan struct{}), make(chan struct{})
	lo := goDo(ctx, t, leader, "k", func(context.Context) cache.Result {
		close(started)
		select {
		case <-finish:
		case <-ctx.Done():
		}
		return cache.Result{Payload: []byte("stored")}
	})
	waitFor(ctx, t, started, "leader's fetch started")
	wo := goDo(ctx, t, late, "k", mustNotFetch(t, "late waiter"))
	observed.mustAwait(ctx, t, 1, "late waiter")
	close(finish)
	wantPayload(t, "leader", receive(ctx, t, lo, "leader"), "stored")
	close(proceed)
	wantPayload(t, "late waiter", receive(ctx, t, wo, "late waiter"), "stored")
}

func TestDo_staleResultsIgnored(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	client := srv.NewClient(t)
	a := newCoordinator(t, srv.NewClient(t), prefix)
	b := newCoordinator(t, srv.NewClient(t), prefix)
	w := newCoordinator(t, srv.NewClient(t), prefix)
	waiting := newSignals()
	redisflight.SetHooks(w, nil, waiting.hook)

	// Flight 1 leaves its result readable (ResultTTL).
	wantPayload(t, "flight 1", receive(ctx, t, goDo(ctx, t, a, "k", func(context.Context) cache.Result {
		return cache.Result{Payload: []byte("old")}
	}), "flight 1"), "old")

	// Flight 2: leader A loses its lease mid-fetch (it expired, say) and
	// B takes the key over with a newer fencing token.
	startedA, finishA := make(chan struct{}), make(chan struct{})
	ao := goDo(ctx, t, a, "k", func(context.Context) cache.Result {
		close(startedA)
		select {
		case <-finishA:
		case <-ctx.Done():
		}
		return cache.Result{Payload: []byte("stale")}
	})
	waitFor(ctx, t, startedA, "A's fetch started")
	if err := client.Del(ctx, redisflight.LeaseKey(prefix, "k")).Err(); err != nil {
		t.Fatal(err)
	}
	startedB, finishB := make(chan struct{}), make(chan struct{})
	bo := goDo(ctx, t, b, "k", func(context.Context) cache.Result {
		close(startedB)
		select {
		case <-finishB:
		case <-ctx.Done():
		}
		return cache.Result{Payload: []byte("fresh")}
	})
	waitFor(ctx, t, startedB, "B's fetch started")

	// W waits on B's lease: flight 1's result is older and must not do.
	wo := goDo(ctx, t, w, "k", mustNotFetch(t, "waiter"))
	select {
	case <-waiting:
	case o := <-wo:
		t.Fatalf("waiter of B's lease returned (%+v, %v) at once, want it to wait for B", o.res, o.err)
	case <-ctx.Done():
		t.Fatalf("waiter did not wait: %v", ctx.Err())
	}

	// A finishes late: its caller gets its result, but it is not published.
	close(finishA)
	wantPayload(t, "stale leader's own caller", receive(ctx, t, ao, "A"), "stale")
	stored, err := client.Get(ctx, redisflight.ResultKey(prefix, "k")).Result()
	if err != nil || !strings.HasSuffix(stored, "old") {
		t.Errorf("stored result after the stale leader finished: got (%q, %v), want flight 1's", stored, err)
	}

	close(finishB)
	wantPayload(t, "B", receive(ctx, t, bo, "B"), "fresh")
	wantPayload(t, "waiter of B", receive(ctx, t, wo, "W"), "fresh")
}

func TestDo_renewalKeepsLease(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	client := srv.NewClient(t)
	const lease = 600 * time.Millisecond
	short := func(o *redisflight.Options) { o.Lease, o.RenewEvery = lease, lease/5 }
	leader := newCoordinator(t, srv.NewClient(t), prefix, short)
	waiter := newCoordinator(t, srv.NewClient(t), prefix, short)
	waiting := newSignals()
	redisflight.SetHooks(waiter, nil, waiting.hook)

	started := make(chan struct{})
	lo := goDo(ctx, t, leader, "k", func(ctx context.Context) cache.Result {
		close(started)
		if err := waiting.await(ctx, 1, "waiter"); err != nil {
			return cache.Result{Err: err.Error()}
		}
		// Fetch for two leases while checking that the lease stays.
		tick := time.NewTicker(lease / 10)
		defer tick.Stop()
		for start := time.Now(); time.Since(start) < 2*lease; {
			select {
			case <-ctx.Done():
				return cache.Result{Err: ctx.Err().Error()}
			case <-tick.C:
			}
			if ttl, err := client.PTTL(ctx, redisflight.LeaseKey(prefix, "k")).Result(); err != nil || ttl <= 0 {
				t.Errorf("lease of a live leader: PTTL %v, %v; want it renewed", ttl, err)
			}
		}
		return cache.Result{Payload: []byte("slow")}
	})
	waitFor(ctx, t, started, "leader's fetch started")
	wo := goDo(ctx, t, waiter, "k", mustNotFetch(t, "waiter of a live leader"))
	wantPayload(t, "leader", receive(ctx, t, lo, "leader"), "slow")
	wantPayload(t, "waiter", receive(ctx, t, wo, "waiter"), "slow")
}

func TestDo_waitTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	const wait = 100 * time.Millisecond
	c := heldElsewhere(ctx, t, "k", "busy:1", time.Minute, func(o *redisflight.Options) { o.WaitTimeout = wait })
	_, err := c.Do(ctx, "k", mustNotFetch(t, "waiter of a live leader"))
	var te *redisflight.WaitTimeoutError
	if !errors.As(err, &te) || te.Key != "k" || te.Wait != wait {
		t.Fatalf("Do with a lease that outlives WaitTimeout: got %v, want a *WaitTimeoutError for %q after %s", err, "k", wait)
	}
}

func TestDo_waiterContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	c := heldElsewhere(ctx, t, "k", "busy:1", time.Minute)
	waiting := newSignals()
	redisflight.SetHooks(c, nil, waiting.hook)
	wctx, leave := context.WithCancel(ctx)
	defer leave()
	wo := goDo(wctx, t, c, "k", mustNotFetch(t, "waiter"))
	waiting.mustAwait(ctx, t, 1, "waiter")
	leave()
	if o := receive(ctx, t, wo, "waiter"); !errors.Is(o.err, context.Canceled) {
		t.Errorf("waiter whose context ended: got (%+v, %v), want context.Canceled", o.res, o.err)
	}
}

func TestDo_tooLargeResultFetchedByWaiters(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	leader, waiter, waiting := leaderAndWaiter(t, func(o *redisflight.Options) { o.MaxResultBytes = 8 })

	big := strings.Repeat("x", 100)
	started := make(chan struct{})
	lo := goDo(ctx, t, leader, "k", func(ctx context.Context) cache.Result {
		close(started)
		if err := waiting.await(ctx, 1, "waiter"); err != nil {
			return cache.Result{Err: err.Error()}
		}
		return cache.Result{Payload: []byte(big)}
	})
	waitFor(ctx, t, started, "leader's fetch started")
	wo := goDo(ctx, t, waiter, "k", func(context.Context) cache.Result {
		return cache.Result{Payload: []byte("own fetch")}
	})
	wantPayload(t, "leader", receive(ctx, t, lo, "leader"), big)
	wantPayload(t, "waiter of a too large result", receive(ctx, t, wo, "waiter"), "own fetch")
}

func TestDo_panickingFetch(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	leader, waiter, waiting := leaderAndWaiter(t)

	started := make(chan struct{})
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = leader.Do(ctx, "k", func(ctx context.Context) cache.Result {
			close(started)
			if err := waiting.await(ctx, 1, "waiter"); err != nil {
				return cache.Result{Err: err.Error()}
			}
			panic("boom")
		})
	}()
	waitFor(ctx, t, started, "leader's fetch started")
	o := receive(ctx, t, goDo(ctx, t, waiter, "k", mustNotFetch(t, "waiter")), "waiter")
	if o.err != nil || !strings.Contains(o.res.Err, "panicked: boom") {
		t.Errorf("waiter of a panicking fetch: got (%+v, %v), want Err mentioning the panic", o.res, o.err)
	}
	select {
	case r := <-panicked:
		if r != "boom" {
			t.Errorf("leader's caller recovered %v, want the fetch's panic", r)
		}
	case <-ctx.Done():
		t.Fatalf("leader's Do did not return: %v", ctx.Err())
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	client := srv.NewClient(t)
	if err := client.Set(ctx, redisflight.LeaseKey(prefix, "k"), "busy:1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	c, err := redisflight.New(redisflight.Options{Client: client, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	waiting := newSignals()
	redisflight.SetHooks(c, nil, waiting.hook)
	wo := goDo(ctx, t, c, "k", mustNotFetch(t, "waiter"))
	waiting.mustAwait(ctx, t, 1, "waiter")
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if o := receive(ctx, t, wo, "waiter"); !errors.Is(o.err, redisflight.ErrClosed) {
		t.Errorf("waiter during Close: got (%+v, %v), want ErrClosed", o.res, o.err)
	}
	if _, err := c.Do(ctx, "other", mustNotFetch(t, "Do after Close")); !errors.Is(err, redisflight.ErrClosed) {
		t.Errorf("Do after Close: got %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDo_invalidKey(t *testing.T) {
	t.Parallel()
	c := newCoordinator(t, redistest.Shared(t).NewClient(t), redistest.Prefix(t))
	for _, key := range []string{"", "a\nb", strings.Repeat("k", cache.MaxKeyLen+1)} {
		if _, err := c.Do(t.Context(), key, mustNotFetch(t, "Do with an invalid key")); !errors.Is(err, cache.ErrInvalidKey) {
			t.Errorf("Do(%.20q): got %v, want cache.ErrInvalidKey", key, err)
		}
	}
}
