package singleflight

import (
	"context"
	"runtime/debug"
	"runtime/pprof"
)

// Result is one key's outcome of DoMany.
type Result[V any] struct {
	Val V
	Err error
	// Shared reports that the result came from a call started by another
	// caller (of Do or DoMany).
	Shared bool
}

// batch is what the calls started by one DoMany share besides their
// context and their done channel (they finish together): how many of them
// still have a caller waiting. Guarded by Group.mu.
type batch struct {
	live int
}

// DoMany is Do for many keys with one function: each key that has a call
// running joins it, and fn is called once for all the others, the keys this
// caller leads. Until fn returns, each led key is a running call of its
// own, which callers of Do and DoMany for that key join. The results are in
// the order of keys; a key given twice joins its first occurrence's call.
//
// fn receives the led keys, in the order given, and a context that carries
// ctx's values but not its cancellation, as Do's fn does. It is cancelled
// when every caller of every led key has returned because its own context
// ended, or by Cancel. fn returns a value per key; a led key absent from its
// map gets the zero V. If fn returns an error, panics or exits its
// goroutine, every led key gets that error and no value. fn runs on a
// goroutine of the Group's, or on the caller's own when ctx can never end;
// it is not called when every key joined a running call.
//
// If ctx ends before every result is in, DoMany returns at once: the keys
// whose call has not finished get ctx's error, and the caller leaves those
// calls.
func (g *Group[K, V]) DoMany(ctx context.Context, keys []K, fn func(ctx context.Context, keys []K) (map[K]V, error)) []Result[V] {
	calls := make([]*call[V], len(keys))
	res := make([]Result[V], len(keys))
	var (
		led    []K
		owned  []call[V] // the calls of led, allocated at once
		cctx   context.Context
		cancel context.CancelFunc
		b      *batch
		done   chan struct{}
	)
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[K]*call[V])
	}
	for i, k := range keys {
		if c, ok := g.m[k]; ok {
			c.waiters++
			calls[i], res[i].Shared = c, c.batch == nil || c.batch != b
			continue
		}
		if b == nil {
			cctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
			if g.cancelled {
				cancel()
			}
			b, done = &batch{}, make(chan struct{})
			n := len(keys) - i // never outgrown: the pointers into owned stay valid
			owned, led = make([]call[V], 0, n), make([]K, 0, n)
		}
		owned = append(owned, call[V]{done: done, waiters: 1, cancel: cancel, batch: b})
		c := &owned[len(owned)-1]
		b.live++
		g.m[k] = c
		g.link(c)
		calls[i] = c
		led = append(led, k)
	}
	g.mu.Unlock()
	if len(led) > 0 {
		if ctx.Done() == nil {
			// As in Do: this caller cannot leave, so no hand-off.
			g.runMany(cctx, cancel, led, owned, fn)
		} else {
			g.workers.run(func() {
				pprof.SetGoroutineLabels(ctx)
				g.runMany(cctx, cancel, led, owned, fn)
			})
		}
	}
	for i, c := range calls {
		select {
		case <-c.done:
			res[i].Val, res[i].Err = c.val, c.err
			continue
		case <-ctx.Done():
		}
		// Take what has finished; leave the rest.
		var leaveKeys []K
		var leaveCalls []*call[V]
		for j := i; j < len(calls); j++ {
			select {
			case <-calls[j].done:
				res[j].Val, res[j].Err = calls[j].val, calls[j].err
			default:
				res[j].Err = ctx.Err()
				leaveKeys, leaveCalls = append(leaveKeys, keys[j]), append(leaveCalls, calls[j])
			}
		}
		g.leave(leaveKeys, leaveCalls)
		break
	}
	return res
}

// runMany runs fn for the led keys and finishes their calls (calls[i] is
// the call of keys[i]).
func (g *Group[K, V]) runMany(ctx context.Context, cancel context.CancelFunc, keys []K, calls []call[V],
	fn func(context.Context, []K) (map[K]V, error)) {
	defer cancel()
	var vals map[K]V
	var err error
	returned := false
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		} else if !returned {
			err = ErrGoexit
		}
		g.mu.Lock()
		for i := range calls {
			c := &calls[i]
			if err != nil {
				c.err = err
			} else {
				c.val = vals[keys[i]]
			}
			if g.m[keys[i]] == c {
				delete(g.m, keys[i])
			}
			g.unlink(c)
		}
		if g.running == nil && g.finished != nil {
			g.finished.Broadcast()
		}
		g.mu.Unlock()
		close(calls[0].done) // shared by all of them
	}()
	vals, err = fn(ctx, keys)
	returned = true
}
