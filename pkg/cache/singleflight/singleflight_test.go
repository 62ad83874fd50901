package singleflight

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newGroup returns a Group closed when the test ends, so that the
// goroutines it keeps for reuse do not outlive the test. Its idle
// goroutines wait an hour, so whether a call reuses one does not depend on
// how fast the test runs.
func newGroup(t *testing.T) *Group[string, int] {
	t.Helper()
	g := new(Group[string, int])
	g.workers.idleTimeout = time.Hour
	t.Cleanup(g.Close)
	return g
}

// waitForWaiters polls until n callers wait on key; bounded by the test's
// deadline, it never sleeps for a fixed time.
func waitForWaiters(t *testing.T, g *Group[string, int], key string, n int) {
	t.Helper()
	for g.Waiters(key) < n {
		if t.Context().Err() != nil {
			t.Fatalf("waiters of %q never reached %d", key, n)
		}
		// Yield to the callers being started.
		runtime.Gosched()
	}
}

func TestConcurrentCallersShareOneCall(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	var calls atomic.Int32
	release := make(chan struct{})
	const n = 100
	var wg sync.WaitGroup
	results := make([]int, n)
	sharedCount := atomic.Int32{}
	for i := range n {
		wg.Go(func() {
			v, shared, err := g.Do(context.Background(), "k", func(context.Context) (int, error) {
				calls.Add(1)
				<-release
				return 42, nil
			})
			if err != nil {
				t.Errorf("caller %d: err = %v", i, err)
			}
			if shared {
				sharedCount.Add(1)
			}
			results[i] = v
		})
	}
	waitForWaiters(t, g, "k", n)
	close(release)
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Fatalf("fn called %d times, want 1", got)
	}
	for i, v := range results {
		if v != 42 {
			t.Fatalf("caller %d got %d, want 42", i, v)
		}
	}
	if got := sharedCount.Load(); got != n-1 {
		t.Errorf("shared results = %d, want %d", got, n-1)
	}
}

func TestCancelledCallerDoesNotCancelCallOthersWaitOn(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	release := make(chan struct{})
	fnCtxErr := make(chan error, 1)
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		_, _, err := g.Do(leaderCtx, "k", func(ctx context.Context) (int, error) {
			<-release
			fnCtxErr <- ctx.Err()
			return 7, nil
		})
		leaderDone <- err
	}()
	waitForWaiters(t, g, "k", 1)
	followerDone := make(chan int, 1)
	go func() {
		v, _, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) { return -1, nil })
		followerDone <- v
	}()
	waitForWaiters(t, g, "k", 2)
	cancelLeader()
	if err := <-leaderDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader err = %v, want context.Canceled", err)
	}
	close(release)
	if v := <-followerDone; v != 7 {
		t.Fatalf("follower got %d, want 7", v)
	}
	if err := <-fnCtxErr; err != nil {
		t.Fatalf("fn context err = %v, want nil (a waiter remained)", err)
	}
}

func TestCallIsCancelledWhenEveryCallerLeaves(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	ctx, cancel := context.WithCancel(context.Background())
	fnSawCancel := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, _, err := g.Do(ctx, "k", func(fctx context.Context) (int, error) {
			<-fctx.Done()
			close(fnSawCancel)
			return 0, fctx.Err()
		})
		done <- err
	}()
	waitForWaiters(t, g, "k", 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	<-fnSawCancel
	g.Close() // returns once the call has
}

func TestPanicReachesEveryWaiterAndKeyIsNotStuck(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	boom := errors.New("boom")
	_, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { panic(boom) })
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *PanicError", err)
	}
	if !errors.Is(err, boom) {
		t.Errorf("PanicError does not unwrap to the panic value")
	}
	if len(pe.Stack) == 0 {
		t.Error("PanicError has no stack")
	}
	v, _, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 1, nil })
	if err != nil || v != 1 {
		t.Fatalf("second Do = %d, %v; want 1, nil", v, err)
	}
}

func TestForgetStartsANewCall(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	release := make(chan struct{})
	first := make(chan int, 1)
	go func() {
		v, _, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) {
			<-release
			return 1, nil
		})
		first <- v
	}()
	waitForWaiters(t, g, "k", 1)
	g.Forget("k")
	v, shared, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 2, nil })
	if v != 2 || shared {
		t.Fatalf("Do after Forget = %d (shared %v), want 2 from a new call", v, shared)
	}
	close(release)
	if v := <-first; v != 1 {
		t.Fatalf("original caller got %d, want 1", v)
	}
	if n := g.InFlight(); n != 0 {
		t.Errorf("InFlight = %d after all calls returned, want 0", n)
	}
}

func TestCancelEndsRunningCallsForgottenOnesIncluded(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	// Three calls block until their context ends: "a" on its caller (whose
	// context cannot end), "b" and "c" on the Group's goroutines. "b" is
	// forgotten, so only the Group's list of running calls still knows it.
	errs := make(chan error, 3)
	for key, ctx := range map[string]context.Context{"a": context.Background(), "b": t.Context(), "c": t.Context()} {
		go func() {
			_, _, err := g.Do(ctx, key, func(fctx context.Context) (int, error) {
				<-fctx.Done()
				return 0, fctx.Err()
			})
			errs <- err
		}()
		waitForWaiters(t, g, key, 1)
	}
	g.Forget("b")
	g.Cancel()
	for range 3 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled from the call", err)
		}
	}
	if n := g.InFlight(); n != 0 {
		t.Errorf("InFlight = %d after Cancel, want 0", n)
	}
}

func TestCallStartedAfterCancelRunsCancelled(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	g.Cancel()
	_, _, err := g.Do(context.Background(), "k", func(fctx context.Context) (int, error) {
		return 0, fctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCancelLeavesReturnedCallsUnlinked(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	// Calls that return in any order must leave the running list empty: a
	// call left linked would be cancelled (and kept alive) forever.
	release := make([]chan struct{}, 4)
	done := make(chan struct{}, len(release))
	for i := range release {
		release[i] = make(chan struct{})
		key := string(rune('a' + i))
		go func() {
			_, _, _ = g.Do(context.Background(), key, func(context.Context) (int, error) {
				<-release[i]
				return i, nil
			})
			done <- struct{}{}
		}()
		waitForWaiters(t, g, key, 1)
	}
	for _, i := range []int{1, 3, 0, 2} {
		close(release[i])
		<-done
	}
	g.mu.Lock()
	left := g.running
	g.mu.Unlock()
	if left != nil {
		t.Fatalf("a returned call is still linked as running")
	}
}

func TestACallerWhoseContextCannotEndRunsTheCallItself(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		inline bool
	}{
		{"context that cannot end", context.Background(), true},
		{"context that can end", t.Context(), false},
	} {
		caller := goroutineID(t)
		var ran string
		if _, _, err := g.Do(tc.ctx, "k", func(context.Context) (int, error) {
			ran = goroutineID(t)
			return 1, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got := ran == caller; got != tc.inline {
			t.Errorf("%s: call ran on the caller's goroutine = %v, want %v", tc.name, got, tc.inline)
		}
	}
}

func TestCloseWhileCallsStartDoesNotPanic(t *testing.T) {
	t.Parallel()
	// An owner's Close can race its callers (a cache Get that passed its
	// closed check just before Close): calls go on starting for a moment
	// while Close waits for the running ones. With a WaitGroup there, a
	// call starting just as the count reached zero panicked ("WaitGroup is
	// reused before previous Wait has returned"). Close returns once the
	// callers stop and their calls have returned.
	for range 100 {
		g := new(Group[string, int])
		var stop atomic.Bool
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				if w%2 == 1 {
					ctx = t.Context() // calls on the Group's goroutines
				}
				for i := 0; !stop.Load(); i++ {
					_, _, _ = g.Do(ctx, strconv.Itoa(w*1_000_000+i), func(context.Context) (int, error) {
						time.Sleep(50 * time.Microsecond) // so that Close finds calls to wait for
						return i, nil
					})
				}
			}()
		}
		closed := make(chan struct{})
		go func() {
			g.Close()
			close(closed)
		}()
		time.Sleep(time.Millisecond) // calls go on starting while Close waits
		stop.Store(true)
		<-closed
		wg.Wait()
		g.Close()
	}
}

func TestACallerAfterEveryoneLeftStartsANewCall(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	// The only caller leaves: its call is cancelled, but runs on until its
	// function notices. A caller arriving then must not join it (it would
	// get the cancelled call's error with a context of its own still live).
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, _, err := g.Do(ctx, "k", func(fctx context.Context) (int, error) {
			<-fctx.Done()
			<-release // the cancelled call is still running when the next caller comes
			return 0, fctx.Err()
		})
		first <- err
	}()
	waitForWaiters(t, g, "k", 1)
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("leaving caller's error = %v, want context.Canceled", err)
	}
	n := g.InFlight()
	close(release)
	if n != 0 {
		t.Fatalf("InFlight = %d once every caller left, want 0: the cancelled call can still be joined", n)
	}
	v, shared, err := g.Do(t.Context(), "k", func(context.Context) (int, error) { return 2, nil })
	if err != nil || v != 2 || shared {
		t.Fatalf("Do after every caller left = %d (shared %v), %v; want 2 from a new call", v, shared, err)
	}
}
