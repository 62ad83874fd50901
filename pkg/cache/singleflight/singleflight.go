// Package singleflight deduplicates concurrent calls for the same key, like
// golang.org/x/sync/singleflight, with two differences a cache needs:
//
//   - the call runs on a goroutine of the Group's with a context detached
//     from any one caller: a caller whose context ends stops waiting, but the
//     call goes on for the others, and is cancelled only when every caller
//     has left. The Group reuses those goroutines for later calls for a
//     moment (see Close), so a call does not pay for a fresh goroutine's
//     stack growth. A caller whose context can never end (its Done is nil)
//     cannot leave early, so the call it starts runs on its own goroutine,
//     with no hand-off;
//   - a panicking call does not crash the process or leave the key stuck:
//     every waiter gets a *PanicError;
//   - its owner can cancel every call at once when it shuts down (Cancel).
//
// DoMany does the same for many keys with one function, joining the keys
// that have a call running and leading the others together.
//
// x/sync/singleflight runs fn on the first caller's goroutine, so that caller
// cannot leave early without abandoning the others; that is why this package
// exists.
package singleflight

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"runtime/pprof"
	"sync"
)

// Group runs at most one call per key at a time. The zero Group is ready to
// use. A Group must not be copied after first use. Its owner calls Close,
// which also ends the goroutines it keeps for reuse.
type Group[K comparable, V any] struct {
	mu        sync.Mutex     // protects m, running, cancelled and finished
	m         map[K]*call[V] // calls new callers join; lazily initialised
	running   *call[V]       // every call not yet returned (forgotten ones too), linked by prev/next
	cancelled bool           // Cancel was called
	// finished is signalled when running becomes empty, for Close; made
	// by the first Close. (A sync.WaitGroup would panic when a call starts
	// while Close waits, which an owner's Close racing its callers allows.)
	finished *sync.Cond
	workers  workers // goroutines calls run on
}

type call[V any] struct {
	done       chan struct{} // closed when val and err are set
	val        V
	err        error
	waiters    int                // callers still waiting; guarded by Group.mu
	cancel     context.CancelFunc // cancels the call's context
	batch      *batch             // the calls sharing its context (DoMany); nil for Do's
	prev, next *call[V]           // in Group.running; guarded by Group.mu
}

// Do calls fn for key unless a call for key is already running, in which
// case it waits for that call and returns its results. shared reports whether
// the results came from a call started by another caller.
//
// fn receives a context that carries ctx's values but not its cancellation;
// it is cancelled when every caller waiting on the call has returned because
// its own context ended, or by Cancel. If ctx ends first, Do returns ctx's
// error at once. fn runs on a goroutine of the Group's, or on the caller's
// own when ctx can never end (ctx.Done() is nil): that caller could not
// return before fn anyway.
func (g *Group[K, V]) Do(ctx context.Context, key K, fn func(ctx context.Context) (V, error)) (v V, shared bool, err error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[K]*call[V])
	}
	c, ok := g.m[key]
	if ok {
		c.waiters++
	} else {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[V]{done: make(chan struct{}), waiters: 1, cancel: cancel}
		g.m[key] = c
		g.link(c)
		if g.cancelled {
			cancel()
		}
		if ctx.Done() == nil {
			// This caller cannot stop waiting, so nothing is gained by
			// running the call elsewhere, and the hand-off (waking a
			// goroutine, then this one again) is most of a fast call's cost.
			g.mu.Unlock()
			g.run(cctx, key, c, fn)
			return c.val, false, c.err
		}
		g.workers.run(func() {
			// A reused goroutine carries the labels of the caller it was
			// started for; profiles should show this caller's.
			pprof.SetGoroutineLabels(ctx)
			g.run(cctx, key, c, fn)
		})
	}
	g.mu.Unlock()
	return g.wait(ctx, key, c, ok)
}

// wait blocks until c finishes or ctx ends. The last caller to leave
// cancels the call and takes it out of the map under the same lock, so a
// caller arriving after it starts a new call instead of joining one whose
// context has ended.
func (g *Group[K, V]) wait(ctx context.Context, key K, c *call[V], shared bool) (V, bool, error) {
	select {
	case <-c.done:
		return c.val, shared, c.err
	case <-ctx.Done():
	}
	g.leave([]K{key}, []*call[V]{c})
	var zero V
	return zero, shared, ctx.Err()
}

// leave takes a caller whose context ended off calls[i] (the call of
// keys[i]), and cancels the calls left with no caller. A call of DoMany's
// is cancelled only when the last caller of every call sharing its context
// has left.
func (g *Group[K, V]) leave(keys []K, calls []*call[V]) {
	var cancels []context.CancelFunc
	g.mu.Lock()
	for i, c := range calls {
		c.waiters--
		if c.waiters > 0 {
			continue
		}
		if g.m[keys[i]] == c {
			delete(g.m, keys[i])
		}
		if c.batch != nil {
			c.batch.live--
			if c.batch.live > 0 {
				continue
			}
		}
		cancels = append(cancels, c.cancel)
	}
	g.mu.Unlock()
	for _, cancel := range cancels {
		cancel()
	}
}

func (g *Group[K, V]) run(ctx context.Context, key K, c *call[V], fn func(context.Context) (V, error)) {
	defer c.cancel()
	returned := false
	defer func() {
		if r := recover(); r != nil {
			c.err = &PanicError{Value: r, Stack: debug.Stack()}
		} else if !returned {
			// Neither a return nor a panic: fn called runtime.Goexit.
			var zero V
			c.val, c.err = zero, ErrGoexit
		}
		g.mu.Lock()
		if g.m[key] == c {
			delete(g.m, key)
		}
		g.unlink(c)
		if g.running == nil && g.finished != nil {
			g.finished.Broadcast()
		}
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn(ctx)
	returned = true
}

// link adds c to the running calls; unlink removes it. The caller holds
// g.mu. A list threaded through the calls costs no allocation and no map
// operation per call, which the miss path would pay.
func (g *Group[K, V]) link(c *call[V]) {
	c.next = g.running
	if c.next != nil {
		c.next.prev = c
	}
	g.running = c
}

func (g *Group[K, V]) unlink(c *call[V]) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		g.running = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
}

// Cancel cancels the context of every running call, forgotten ones
// included, and of every call started after it; callers still waiting get
// whatever those calls then return. An owner shutting down calls it so
// that its calls end soon, then Close to wait for them.
func (g *Group[K, V]) Cancel() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancelled = true
	for c := g.running; c != nil; c = c.next {
		c.cancel()
	}
}

// Forget makes later calls of Do for key start a new call instead of joining
// the running one. Callers already waiting keep waiting for it.
func (g *Group[K, V]) Forget(key K) {
	g.mu.Lock()
	delete(g.m, key)
	g.mu.Unlock()
}

// ForgetAll is Forget for every key.
func (g *Group[K, V]) ForgetAll() {
	g.mu.Lock()
	clear(g.m)
	g.mu.Unlock()
}

// InFlight returns the number of calls running that new callers would join.
func (g *Group[K, V]) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}

// Close waits until every call started so far has returned (Cancel makes
// them return soon) and the goroutines kept for reuse have exited; owners
// call it from their own Close so that nothing the Group started outlives
// them. Idle goroutines exit by themselves after a second anyway. The Group
// stays usable: a call started after Close runs on a goroutine that exits
// when the call returns.
func (g *Group[K, V]) Close() {
	g.mu.Lock()
	if g.finished == nil {
		g.finished = sync.NewCond(&g.mu)
	}
	for g.running != nil {
		g.finished.Wait()
	}
	g.mu.Unlock()
	g.workers.close()
}

// ErrGoexit is the error the waiters of a call get when the call ended its
// goroutine with runtime.Goexit (as t.FailNow in a test's function does)
// instead of returning. When the call ran on its caller's goroutine (a
// caller whose context cannot end), that caller's goroutine exits too, as it
// would have without the Group.
var ErrGoexit = errors.New("singleflight: call exited its goroutine (runtime.Goexit)")

// PanicError is the error every waiter gets when the call panicked.
type PanicError struct {
	Value any    // what fn panicked with
	Stack []byte // the goroutine's stack at the panic
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("singleflight: call panicked: %v", e.Value)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Waiters reports how many callers wait on key's running call (0 when
// none runs). It is meant for diagnostics and tests.
func (g *Group[K, V]) Waiters(key K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.m[key]; ok {
		return c.waiters
	}
	return 0
}
