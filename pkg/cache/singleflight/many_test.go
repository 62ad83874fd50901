package singleflight

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
)

// blockedDo starts a Do of key whose fn returns val once release is
// closed, and waits until it runs; its result arrives on the returned
// channel.
func blockedDo(t *testing.T, g *Group[string, int], key string, val int, release <-chan struct{}) <-chan int {
	t.Helper()
	out := make(chan int, 1)
	go func() {
		v, _, err := g.Do(t.Context(), key, func(context.Context) (int, error) {
			<-release
			return val, nil
		})
		if err != nil {
			t.Errorf("Do(%q): %v", key, err)
		}
		out <- v
	}()
	waitForWaiters(t, g, key, 1)
	return out
}

func TestDoManyJoinsRunningCallsAndLeadsTheRest(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	release := make(chan struct{})
	doResult := blockedDo(t, g, "a", 1, release)
	var asked [][]string
	done := make(chan []Result[int], 1)
	go func() {
		done <- g.DoMany(t.Context(), []string{"a", "b", "c"}, func(_ context.Context, keys []string) (map[string]int, error) {
			asked = append(asked, slices.Clone(keys))
			return map[string]int{"b": 2}, nil // "c" is absent: the zero value
		})
	}()
	waitForWaiters(t, g, "a", 2)
	close(release)
	res := <-done
	if want := [][]string{{"b", "c"}}; !slices.EqualFunc(asked, want, slices.Equal) {
		t.Fatalf("fn asked for %v, want %v (the running call of a is joined)", asked, want)
	}
	want := []Result[int]{{Val: 1, Shared: true}, {Val: 2}, {Val: 0}}
	if !slices.Equal(res, want) {
		t.Fatalf("DoMany = %+v, want %+v", res, want)
	}
	if v := <-doResult; v != 1 {
		t.Errorf("Do(a) = %d, want 1", v)
	}
	if n := g.InFlight(); n != 0 {
		t.Errorf("InFlight = %d after every call returned, want 0", n)
	}
}

func TestDoAndDoManyJoinTheKeysADoManyLeads(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	release := make(chan struct{})
	var calls int
	first := make(chan []Result[int], 1)
	go func() {
		first <- g.DoMany(t.Context(), []string{"x", "y"}, func(context.Context, []string) (map[string]int, error) {
			calls++
			<-release
			return map[string]int{"x": 10, "y": 20}, nil
		})
	}()
	waitForWaiters(t, g, "y", 1)
	doResult := make(chan Result[int], 1)
	go func() {
		v, shared, err := g.Do(t.Context(), "y", func(context.Context) (int, error) { return -1, nil })
		doResult <- Result[int]{Val: v, Err: err, Shared: shared}
	}()
	second := make(chan []Result[int], 1)
	go func() {
		second <- g.DoMany(t.Context(), []string{"x", "y"}, func(context.Context, []string) (map[string]int, error) {
			return map[string]int{"x": -1, "y": -1}, nil
		})
	}()
	waitForWaiters(t, g, "y", 3)
	waitForWaiters(t, g, "x", 2)
	close(release)
	if got, want := <-first, []Result[int]{{Val: 10}, {Val: 20}}; !slices.Equal(got, want) {
		t.Errorf("leading DoMany = %+v, want %+v", got, want)
	}
	if got, want := <-second, []Result[int]{{Val: 10, Shared: true}, {Val: 20, Shared: true}}; !slices.Equal(got, want) {
		t.Errorf("joining DoMany = %+v, want %+v", got, want)
	}
	if got, want := <-doResult, (Result[int]{Val: 20, Shared: true}); got != want {
		t.Errorf("Do(y) = %+v, want %+v", got, want)
	}
	if calls != 1 {
		t.Errorf("fn called %d times, want 1", calls)
	}
}

func TestDoManyFailureReachesEveryLedKeyOnly(t *testing.T) {
	t.Parallel()
	down := errors.New("origin down")
	for _, tc := range []struct {
		name  string
		fn    func(context.Context, []string) (map[string]int, error)
		check func(error) bool
	}{
		{"error", func(context.Context, []string) (map[string]int, error) {
			return map[string]int{"b": 2}, down // the partial values are dropped
		}, func(err error) bool { return errors.Is(err, down) }},
		{"panic", func(context.Context, []string) (map[string]int, error) { panic(down) }, func(err error) bool {
			var pe *PanicError
			return errors.As(err, &pe) && errors.Is(err, down)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGroup(t)
			release := make(chan struct{})
			doResult := blockedDo(t, g, "a", 1, release)
			done := make(chan []Result[int], 1)
			go func() { done <- g.DoMany(t.Context(), []string{"a", "b", "c"}, tc.fn) }()
			waitForWaiters(t, g, "a", 2)
			close(release)
			res := <-done
			if res[0] != (Result[int]{Val: 1, Shared: true}) {
				t.Errorf("joined key a = %+v, want the running call's value", res[0])
			}
			for _, r := range res[1:] {
				if r.Val != 0 || !tc.check(r.Err) {
					t.Errorf("led key = %+v, want no value and the %s", r, tc.name)
				}
			}
			<-doResult
			// Nothing is stuck: the keys start new calls.
			if res := g.DoMany(t.Context(), []string{"b", "c"}, func(context.Context, []string) (map[string]int, error) {
				return map[string]int{"b": 5, "c": 6}, nil
			}); res[0].Val != 5 || res[1].Val != 6 {
				t.Errorf("DoMany after the failure = %+v, want new values", res)
			}
		})
	}
}

func TestDoManyCallerLeavingKeepsTheCallForOthers(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	release := make(chan struct{})
	fnCtxErr := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	leader := make(chan []Result[int], 1)
	go func() {
		leader <- g.DoMany(ctx, []string{"p", "q"}, func(fctx context.Context, _ []string) (map[string]int, error) {
			<-release
			fnCtxErr <- fctx.Err()
			return map[string]int{"p": 1, "q": 2}, nil
		})
	}()
	waitForWaiters(t, g, "q", 1)
	follower := make(chan int, 1)
	go func() {
		v, _, _ := g.Do(context.Background(), "q", func(context.Context) (int, error) { return -1, nil })
		follower <- v
	}()
	waitForWaiters(t, g, "q", 2)
	cancel()
	for _, r := range <-leader {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("leaving caller got %+v, want context.Canceled", r)
		}
	}
	close(release)
	if v := <-follower; v != 2 {
		t.Fatalf("follower of q got %d, want 2", v)
	}
	if err := <-fnCtxErr; err != nil {
		t.Fatalf("fn context err = %v, want nil (a caller of q still waited)", err)
	}
}

func TestDoManyIsCancelledWhenEveryCallerLeaves(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	ctx, cancel := context.WithCancel(context.Background())
	sawCancel := make(chan struct{})
	done := make(chan []Result[int], 1)
	go func() {
		done <- g.DoMany(ctx, []string{"p", "q"}, func(fctx context.Context, _ []string) (map[string]int, error) {
			<-fctx.Done()
			close(sawCancel)
			return nil, fctx.Err()
		})
	}()
	waitForWaiters(t, g, "q", 1)
	cancel()
	<-done
	<-sawCancel
	g.Close() // returns once the call has
}

func TestDoManyTakesAKeyGivenTwiceOnce(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	var asked []string
	res := g.DoMany(context.Background(), []string{"k", "k"}, func(_ context.Context, keys []string) (map[string]int, error) {
		asked = keys
		return map[string]int{"k": 3}, nil
	})
	if !slices.Equal(asked, []string{"k"}) {
		t.Errorf("fn asked for %v, want [k]", asked)
	}
	if want := []Result[int]{{Val: 3}, {Val: 3}}; !slices.Equal(res, want) {
		t.Errorf("DoMany = %+v, want %+v (neither shared with another caller)", res, want)
	}
}

func TestCancelAndCloseCoverDoManyCalls(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	fnErr := make(chan error, 1)
	done := make(chan []Result[int], 1)
	go func() {
		done <- g.DoMany(t.Context(), []string{"p", "q"}, func(fctx context.Context, _ []string) (map[string]int, error) {
			<-fctx.Done()
			fnErr <- fctx.Err()
			return nil, fctx.Err()
		})
	}()
	waitForWaiters(t, g, "p", 1)
	g.Cancel()
	for _, r := range <-done {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("result after Cancel = %+v, want context.Canceled", r)
		}
	}
	if err := <-fnErr; !errors.Is(err, context.Canceled) {
		t.Errorf("fn context err = %v, want context.Canceled", err)
	}
	g.Close()
	if n := g.InFlight(); n != 0 {
		t.Errorf("InFlight = %d after Close, want 0", n)
	}
}

func TestGoexitInADoManyCallReachesEveryLedKeyAsAnError(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	entered, release := make(chan struct{}), make(chan struct{})
	leader := make(chan []Result[int], 1)
	go func() {
		leader <- g.DoMany(t.Context(), []string{"p", "q"}, func(context.Context, []string) (map[string]int, error) {
			blockInCall(entered, release)
			runtime.Goexit()
			return nil, nil
		})
	}()
	<-entered
	waiter := make(chan error, 1)
	go func() {
		_, _, err := g.Do(t.Context(), "q", func(context.Context) (int, error) { return -1, nil })
		waiter <- err
	}()
	waitForWaiters(t, g, "q", 2)
	close(release)
	if err := <-waiter; !errors.Is(err, ErrGoexit) {
		t.Fatalf("waiter's error = %v, want ErrGoexit", err)
	}
	for _, r := range <-leader {
		if !errors.Is(r.Err, ErrGoexit) {
			t.Errorf("leader's result = %+v, want ErrGoexit", r)
		}
	}
	if res := g.DoMany(t.Context(), []string{"p", "q"}, func(context.Context, []string) (map[string]int, error) {
		return map[string]int{"p": 1, "q": 2}, nil
	}); res[0].Val != 1 || res[1].Val != 2 {
		t.Fatalf("DoMany after a Goexit = %+v, want new values", res)
	}
}
