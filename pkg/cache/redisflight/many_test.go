package redisflight_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisflight"
)

// manyOutcome is what one DoMany returned.
type manyOutcome struct {
	res  map[string]cache.Result
	errs map[string]error
}

// goDoMany runs c.DoMany in a goroutine that ends before t does, and
// returns the channel its outcome arrives on.
func goDoMany(ctx context.Context, t *testing.T, c *redisflight.Coordinator, keys []string,
	fetch func(context.Context, []string) map[string]cache.Result,
) <-chan manyOutcome {
	t.Helper()
	return goRun(t, func() manyOutcome {
		res, errs := c.DoMany(ctx, keys, fetch)
		return manyOutcome{res, errs}
	})
}

// payloads returns the payload of every successful Result in res.
func payloads(res map[string]cache.Result) map[string]string {
	out := make(map[string]string, len(res))
	for k, r := range res {
		if r.Err == "" && !r.NotFound {
			out[k] = string(r.Payload)
		}
	}
	return out
}

// fetchLog records the keys each call of a bulk fetch was given.
type fetchLog struct {
	mu    sync.Mutex
	calls [][]string
}

func (l *fetchLog) fetch(hold <-chan struct{}) func(context.Context, []string) map[string]cache.Result {
	return func(ctx context.Context, keys []string) map[string]cache.Result {
		l.mu.Lock()
		l.calls = append(l.calls, slices.Clone(keys))
		l.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
			}
		}
		out := make(map[string]cache.Result, len(keys))
		for _, k := range keys {
			if k != "absent" {
				out[k] = cache.Result{Payload: []byte("v:" + k)}
			}
		}
		return out
	}
}

func (l *fetchLog) asked() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func TestDoMany_leadsFreeKeysAndWaitsForTheOthers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	first := newCoordinator(t, srv.NewClient(t), prefix)
	second := newCoordinator(t, srv.NewClient(t), prefix)
	waiting := newSignals()
	redisflight.SetHooks(second, nil, waiting.hook)
	var thisLog, otherLog fetchLog
	hold := make(chan struct{})
	// The first instance leads a and b and holds its fetch.
	entered := make(chan struct{})
	held := thisLog.fetch(hold)
	fo := goDoMany(ctx, t, first, []string{"a", "b"}, func(ctx context.Context, keys []string) map[string]cache.Result {
		close(entered)
		return held(ctx, keys)
	})
	waitFor(ctx, t, entered, "the first instance's fetch started")
	// The second instance asks for b (led by the first), c and absent.
	so := goDoMany(ctx, t, second, []string{"b", "c", "absent"}, otherLog.fetch(nil))
	waiting.mustAwait(ctx, t, 1, "second instance waiting for b")
	close(hold)

	f, s := receive(ctx, t, fo, "first"), receive(ctx, t, so, "second")
	if want := map[string]string{"a": "v:a", "b": "v:b"}; !maps.Equal(payloads(f.res), want) || len(f.errs) != 0 {
		t.Errorf("first instance = %v, %v; want %v", payloads(f.res), f.errs, want)
	}
	if want := map[string]string{"b": "v:b", "c": "v:c"}; !maps.Equal(payloads(s.res), want) || len(s.errs) != 0 {
		t.Errorf("second instance = %v, %v; want %v", payloads(s.res), s.errs, want)
	}
	if !s.res["absent"].NotFound {
		t.Errorf("a key the fetch left out = %+v, want not found", s.res["absent"])
	}
	if got, want := thisLog.asked(), [][]string{{"a", "b"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("first instance fetched %v, want %v", got, want)
	}
	if got, want := otherLog.asked(), [][]string{{"c", "absent"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("second instance fetched %v, want %v (b is the first's)", got, want)
	}
}

func TestDoMany_takesOverADeadLeadersKeyAlone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	// A leader that died holds k's lease; nobody renews it.
	c := afterDeadLeader(ctx, t, "k")
	var log fetchLog
	o := receive(ctx, t, goDoMany(ctx, t, c, []string{"j", "k"}, log.fetch(nil)), "DoMany")
	if want := map[string]string{"j": "v:j", "k": "v:k"}; !maps.Equal(payloads(o.res), want) || len(o.errs) != 0 {
		t.Errorf("DoMany = %v, %v; want %v", payloads(o.res), o.errs, want)
	}
	asked := log.asked()
	slices.SortFunc(asked, slices.Compare)
	if want := [][]string{{"j"}, {"k"}}; !slices.EqualFunc(asked, want, slices.Equal) {
		t.Errorf("fetched %v, want %v (j led at once, k alone after the takeover)", asked, want)
	}
}

func TestDoMany_reportsFailedCoordinationPerKey(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	// Another instance holds slow's lease for longer than the wait.
	c := heldElsewhere(ctx, t, "slow", "other:1", time.Minute, func(o *redisflight.Options) { o.WaitTimeout = 200 * time.Millisecond })
	var log fetchLog
	o := receive(ctx, t, goDoMany(ctx, t, c, []string{"ok", "slow", "bad\x00key"}, log.fetch(nil)), "DoMany")
	if want := map[string]string{"ok": "v:ok"}; !maps.Equal(payloads(o.res), want) {
		t.Errorf("results = %v, want %v", payloads(o.res), want)
	}
	var wt *redisflight.WaitTimeoutError
	if !errors.As(o.errs["slow"], &wt) || wt.Key != "slow" {
		t.Errorf("error of slow = %v, want a WaitTimeoutError", o.errs["slow"])
	}
	if !errors.Is(o.errs["bad\x00key"], cache.ErrInvalidKey) {
		t.Errorf("error of an invalid key = %v, want cache.ErrInvalidKey", o.errs["bad\x00key"])
	}
	if len(o.res)+len(o.errs) != 3 {
		t.Errorf("%d results and %d errors for 3 keys, want each key once", len(o.res), len(o.errs))
	}
}

func TestDoMany_panickingFetchReachesTheWaitersOfEveryLedKey(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	leader, waiter, waiting := leaderAndWaiter(t)
	started := make(chan struct{})
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		leader.DoMany(ctx, []string{"p", "q"}, func(ctx context.Context, _ []string) map[string]cache.Result {
			close(started)
			if err := waiting.await(ctx, 2, "waiters"); err != nil {
				return nil
			}
			panic("boom")
		})
	}()
	waitFor(ctx, t, started, "leader's fetch started")
	po := goDo(ctx, t, waiter, "p", mustNotFetch(t, "waiter of p"))
	qo := goDo(ctx, t, waiter, "q", mustNotFetch(t, "waiter of q"))
	if r := <-panicked; r != "boom" {
		t.Fatalf("DoMany's caller recovered %v, want the fetch's panic", r)
	}
	for what, out := range map[string]<-chan outcome{"p": po, "q": qo} {
		if o := receive(ctx, t, out, what); o.err != nil || o.res.Err == "" {
			t.Errorf("waiter of %s: got (%+v, %v), want a Result saying the leader panicked", what, o.res, o.err)
		}
	}
}

func TestDoMany_loadsItsScriptsOnAServerThatHasNone(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	client := redistest.Start(t).NewClient(t)
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	prefix := redistest.Prefix(t)
	c := newCoordinator(t, client, prefix)
	var log fetchLog
	o := receive(ctx, t, goDoMany(ctx, t, c, []string{"s1", "s2"}, log.fetch(nil)), "DoMany")
	if want := map[string]string{"s1": "v:s1", "s2": "v:s2"}; !maps.Equal(payloads(o.res), want) || len(o.errs) != 0 {
		t.Fatalf("DoMany = %v, %v; want %v", payloads(o.res), o.errs, want)
	}
	// The pipelined claims and finishes met NOSCRIPT and ran again: the
	// leases are gone and the results stored.
	for _, k := range []string{"s1", "s2"} {
		if n, err := client.Exists(ctx, redisflight.LeaseKey(prefix, k)).Result(); err != nil || n != 0 {
			t.Errorf("lease of %s: exists %d, %v; want gone", k, n, err)
		}
		if n, err := client.Exists(ctx, redisflight.ResultKey(prefix, k)).Result(); err != nil || n != 1 {
			t.Errorf("result of %s: exists %d, %v; want stored", k, n, err)
		}
	}
}

func TestDoMany_panicOfATakeOverFetchContinuesInTheCaller(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	// A leader that died holds k's lease: DoMany waits, takes over, and
	// its fetch of k panics on the wait's goroutine.
	c := afterDeadLeader(ctx, t, "k")
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		c.DoMany(ctx, []string{"k"}, func(context.Context, []string) map[string]cache.Result { panic("boom") })
	}()
	select {
	case r := <-recovered:
		if r != "boom" {
			t.Fatalf("DoMany's caller recovered %v, want the fetch's panic", r)
		}
	case <-ctx.Done():
		t.Fatal("DoMany did not return")
	}
}
