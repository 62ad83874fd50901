package redisflight_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisflight"
)

// testTimeout bounds every wait of a test; a correct run needs a fraction
// of it.
const testTimeout = 20 * time.Second

// newCoordinator returns a Coordinator on client under prefix, with opts
// applied, closed when t ends.
func newCoordinator(t testing.TB, client redis.UniversalClient, prefix string, opts ...func(*redisflight.Options)) *redisflight.Coordinator {
	t.Helper()
	o := redisflight.Options{Client: client, Prefix: prefix}
	for _, f := range opts {
		f(&o)
	}
	c, err := redisflight.New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// leaderAndWaiter returns two instances under a fresh prefix on the shared
// server: a leader, with opts applied, and a waiter whose waiting hook
// feeds the returned signals.
func leaderAndWaiter(t *testing.T, opts ...func(*redisflight.Options)) (leader, waiter *redisflight.Coordinator, waiting signals) {
	t.Helper()
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	leader = newCoordinator(t, srv.NewClient(t), prefix, opts...)
	waiter = newCoordinator(t, srv.NewClient(t), prefix)
	waiting = newSignals()
	redisflight.SetHooks(waiter, nil, waiting.hook)
	return leader, waiter, waiting
}

// heldElsewhere returns a coordinator, with opts applied, on a fresh prefix
// where another instance holds key's lease (value holder) for ttl; nobody
// renews it.
func heldElsewhere(ctx context.Context, t *testing.T, key, holder string, ttl time.Duration,
	opts ...func(*redisflight.Options),
) *redisflight.Coordinator {
	t.Helper()
	client := redistest.Shared(t).NewClient(t)
	prefix := redistest.Prefix(t)
	if err := client.Set(ctx, redisflight.LeaseKey(prefix, key), holder, ttl).Err(); err != nil {
		t.Fatal(err)
	}
	return newCoordinator(t, client, prefix, opts...)
}

// afterDeadLeader returns a coordinator with a short lease where a leader
// that died holds key's lease: its first Do or DoMany of key waits, then
// takes over.
func afterDeadLeader(ctx context.Context, t *testing.T, key string) *redisflight.Coordinator {
	t.Helper()
	const lease = 300 * time.Millisecond
	return heldElsewhere(ctx, t, key, "ghost:1", lease, func(o *redisflight.Options) { o.Lease = lease })
}

// signals turns hook calls into channel receives.
type signals chan string

func newSignals() signals { return make(signals, 1024) }

func (s signals) hook(key string) { s <- key }

// await receives n signals, or reports how many came before ctx ended.
// It may be called from any goroutine.
func (s signals) await(ctx context.Context, n int, what string) error {
	for i := range n {
		select {
		case <-s:
		case <-ctx.Done():
			return fmt.Errorf("%s: got %d of %d signals before %w", what, i, n, ctx.Err())
		}
	}
	return nil
}

// mustAwait is await for the test's own goroutine: it fails t on error.
func (s signals) mustAwait(ctx context.Context, t *testing.T, n int, what string) {
	t.Helper()
	if err := s.await(ctx, n, what); err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until ch is closed, failing t when ctx ends first.
func waitFor(ctx context.Context, t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("%s: not before %v", what, ctx.Err())
	}
}

// outcome is what one Do returned.
type outcome struct {
	res cache.Result
	err error
}

// goDo runs c.Do in a goroutine that ends before t does, and returns the
// channel its outcome arrives on.
func goDo(ctx context.Context, t *testing.T, c *redisflight.Coordinator, key string,
	fetch func(context.Context) cache.Result,
) <-chan outcome {
	t.Helper()
	return goRun(t, func() outcome {
		res, err := c.Do(ctx, key, fetch)
		return outcome{res, err}
	})
}

// goRun runs fn in a goroutine that ends before t does, and returns the
// channel its result arrives on.
func goRun[T any](t *testing.T, fn func() T) <-chan T {
	t.Helper()
	out := make(chan T, 1)
	var wg sync.WaitGroup
	wg.Go(func() { out <- fn() })
	t.Cleanup(wg.Wait)
	return out
}

// receive returns the result from out, failing t when ctx ends first.
func receive[T any](ctx context.Context, t *testing.T, out <-chan T, what string) T {
	t.Helper()
	select {
	case o := <-out:
		return o
	case <-ctx.Done():
		var zero T
		t.Fatalf("%s: no outcome before %v", what, ctx.Err())
		return zero
	}
}

// wantPayload fails t unless o is a success carrying want.
func wantPayload(t *testing.T, what string, o outcome, want string) {
	t.Helper()
	if o.err != nil || o.res.Err != "" || o.res.NotFound || !bytes.Equal(o.res.Payload, []byte(want)) {
		t.Errorf("%s: got (%+v, %v), want payload %q", what, o.res, o.err, want)
	}
}

// mustNotFetch is a fetch for callers that must receive another's result.
func mustNotFetch(t *testing.T, who string) func(context.Context) cache.Result {
	return func(context.Context) cache.Result {
		t.Errorf("%s fetched, want it to receive the leader's result", who)
		return cache.Result{Err: "unexpected fetch"}
	}
}

// stampede runs callers concurrent Do calls for key, spread over coords,
// whose observedLeader hooks feed observed. The fetch waits until every
// other caller has seen its lease, so that all are in flight at once. It
// checks that exactly one fetch ran and every caller got its payload.
func stampede(t *testing.T, coords []*redisflight.Coordinator, observed signals, key string, callers int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	want := "value of " + key
	var fetches atomic.Int32
	fetch := func(ctx context.Context) cache.Result {
		fetches.Add(1)
		for i := range callers - 1 {
			select {
			case <-observed:
			case <-ctx.Done():
				return cache.Result{Err: fmt.Sprintf("only %d of %d other callers joined", i, callers-1)}
			}
		}
		return cache.Result{Payload: []byte(want)}
	}
	outs := make([]<-chan outcome, callers)
	for i := range callers {
		outs[i] = goDo(ctx, t, coords[i%len(coords)], key, fetch)
	}
	for i, out := range outs {
		what := fmt.Sprintf("key %q, caller %d", key, i)
		wantPayload(t, what, receive(ctx, t, out, what), want)
	}
	if got := fetches.Load(); got != 1 {
		t.Errorf("key %q: %d callers over %d instances ran %d fetches, want 1", key, callers, len(coords), got)
	}
}
