package singleflight

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// goroutineID returns the calling goroutine's ID, read from its stack trace
// header ("goroutine 42 [running]:").
func goroutineID(t *testing.T) string {
	t.Helper()
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	if len(f) < 2 || f[0] != "goroutine" {
		t.Fatalf("unexpected stack header %q", buf)
	}
	return f[1]
}

// waitIdle waits until a goroutine of g counts itself idle.
func waitIdle(t *testing.T, g *Group[string, int]) {
	t.Helper()
	for g.workers.idle.Load() == 0 {
		runtime.Gosched()
	}
}

func TestALaterCallRunsOnTheGoroutineOfAnEarlierOne(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	// The goroutine counts itself idle a moment before it waits for work; a
	// call made in that moment gets a new goroutine. So look for reuse over
	// a series of calls, each made once the previous goroutine counts as
	// idle: without reuse every call runs on a goroutine of its own.
	const calls = 50
	prev := ""
	for i := range calls {
		var id string
		// A context that can end: the call runs on a goroutine of the Group's.
		_, _, err := g.Do(t.Context(), strconv.Itoa(i), func(context.Context) (int, error) {
			id = goroutineID(t)
			return i, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if id == prev {
			return
		}
		prev = id
		waitIdle(t, g)
	}
	t.Fatalf("%d calls in a row ran on %d different goroutines, want a goroutine reused", calls, calls)
}

// blockInCall parks a call until release is closed, in a function the test
// finds by name in the goroutine profile.
//
//go:noinline
func blockInCall(entered chan<- struct{}, release <-chan struct{}) {
	entered <- struct{}{}
	<-release
}

// callLabels returns the profiler labels of the goroutine parked in
// blockInCall, as the goroutine profile prints them ("" for none).
func callLabels(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	for _, record := range strings.Split(buf.String(), "\n\n") {
		if !strings.Contains(record, ".blockInCall+") {
			continue
		}
		for _, line := range strings.Split(record, "\n") {
			if l, ok := strings.CutPrefix(line, "# labels: "); ok {
				return l
			}
		}
		return ""
	}
	t.Fatal("no goroutine is parked in blockInCall")
	return ""
}

func TestAReusedGoroutineCarriesItsCurrentCallersLabels(t *testing.T) {
	t.Parallel()
	g := newGroup(t)
	for i, tc := range []struct {
		ctx  context.Context
		want string
	}{
		// Contexts that can end, so that the calls run on the Group's goroutines.
		{pprof.WithLabels(t.Context(), pprof.Labels("caller", "first")), `{"caller":"first"}`},
		{pprof.WithLabels(t.Context(), pprof.Labels("caller", "second")), `{"caller":"second"}`},
		{t.Context(), ""},
	} {
		if i > 0 {
			waitIdle(t, g) // usually reused; the labels must be right either way
		}
		entered, release := make(chan struct{}), make(chan struct{})
		done := make(chan error)
		go func() {
			_, _, err := g.Do(tc.ctx, "k", func(context.Context) (int, error) {
				blockInCall(entered, release)
				return 0, nil
			})
			done <- err
		}()
		<-entered
		got := callLabels(t)
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("call %d ran with labels %q, want %q", i, got, tc.want)
		}
	}
}

func TestAtMostMaxIdleWorkersWaitForWork(t *testing.T) {
	t.Parallel()
	var w workers
	for i := range maxIdleWorkers {
		if !w.reserveIdle() {
			t.Fatalf("goroutine %d may not wait, want %d to", i+1, maxIdleWorkers)
		}
	}
	if w.reserveIdle() {
		t.Fatalf("goroutine %d may wait too, want it to exit", maxIdleWorkers+1)
	}
	if n := w.idle.Load(); n != maxIdleWorkers {
		t.Fatalf("idle count = %d after a refusal, want %d", n, maxIdleWorkers)
	}
}

func TestWorkersRunFunctionsAfterClose(t *testing.T) {
	t.Parallel()
	var w workers
	w.close()
	var got []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		w.run(func() {
			defer wg.Done()
			mu.Lock()
			got = append(got, strconv.Itoa(i))
			mu.Unlock()
		})
	}
	wg.Wait()
	w.close() // waits for the goroutines started after the first close
	if len(got) != 3 {
		t.Fatalf("ran %v after close, want 3 functions", got)
	}
}

func TestGoexitInACallReachesItsWaitersAsAnError(t *testing.T) {
	t.Parallel()
	// A function that calls runtime.Goexit (t.FailNow in a test's fetcher
	// does) ends the goroutine it runs on. Its waiters get ErrGoexit, not a
	// zero value with no error, and the key is not stuck. A caller whose
	// context can end waits on another goroutine and goes on; a caller whose
	// context cannot end ran the call itself, so its goroutine ends too.
	for _, tc := range []struct {
		name         string
		ctx          func(t *testing.T) context.Context
		callerGoesOn bool
	}{
		{"call on a goroutine of the Group's", func(t *testing.T) context.Context { return t.Context() }, true},
		{"call on its caller", func(*testing.T) context.Context { return context.Background() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGroup(t)
			entered, release := make(chan struct{}), make(chan struct{})
			leader := make(chan error, 1)
			leaderEnded := make(chan struct{})
			go func() {
				defer close(leaderEnded) // runs on Goexit too
				_, _, err := g.Do(tc.ctx(t), "k", func(context.Context) (int, error) {
					blockInCall(entered, release)
					runtime.Goexit()
					return 0, nil
				})
				leader <- err
			}()
			<-entered
			waiter := make(chan error, 1)
			go func() {
				_, _, err := g.Do(t.Context(), "k", func(context.Context) (int, error) { return -1, nil })
				waiter <- err
			}()
			waitForWaiters(t, g, "k", 2)
			close(release)
			if err := <-waiter; !errors.Is(err, ErrGoexit) {
				t.Fatalf("waiter's error = %v, want ErrGoexit", err)
			}
			if tc.callerGoesOn {
				if err := <-leader; !errors.Is(err, ErrGoexit) {
					t.Fatalf("leader's error = %v, want ErrGoexit", err)
				}
			} else {
				<-leaderEnded
				if len(leader) > 0 {
					t.Fatalf("leader returned %v from a call that ended its goroutine", <-leader)
				}
			}
			v, _, err := g.Do(t.Context(), "k", func(context.Context) (int, error) { return 7, nil })
			if err != nil || v != 7 {
				t.Fatalf("Do after a Goexit = %d, %v; want 7, nil", v, err)
			}
		})
	}
}
