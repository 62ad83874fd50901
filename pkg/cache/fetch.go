package cache

import (
	"context"
	"errors"
	"sync"
	"time"
)

// flightResult is what a shared fetch hands to every waiter. err is the
// failure of one key of a bulk fetch (GetMany), whose other keys may have
// values; a fetch of one key fails with the flight's error instead.
type flightResult struct {
	value    any
	negative bool
	err      error
}

// runFetch calls fn and stores its result unless a write of qk happened
// since fc was captured. A value that cannot be stored (fenced, too large,
// layer failure) is still returned to the callers.
func (c *core) runFetch(ctx context.Context, qk string, fc fence, fn func(context.Context) (any, error), co *callOptions) (flightResult, error) {
	val, err := c.callFetcher(ctx, qk, co.group, fn)
	switch {
	case errors.Is(err, ErrNotFound):
		if c.negativeTTL(co) > 0 {
			c.storeFetched(qk, fc, nil, true, co)
		}
		return flightResult{negative: true}, nil
	case err != nil:
		return flightResult{}, err
	}
	c.storeFetched(qk, fc, val, false, co)
	return flightResult{value: val}, nil
}

// callFetcher runs fn under Options.FetchTimeout, and counts and reports the
// call. qk names the key in events ("" for bulk fetches). ctx must end when
// the Stack closes: the flight's contexts do (Close cancels the flight), and
// every fetch, single or bulk, runs in one. A fetch without a timeout thus
// runs in the context it is given, with no context, timer or registration of
// its own on the miss path.
func (c *core) callFetcher(ctx context.Context, qk, group string, fn func(context.Context) (any, error)) (any, error) {
	if c.opts.FetchTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.FetchTimeout)
		defer cancel()
	}

	start := time.Now()
	val, err := c.guarded(ctx, qk, group, fn)
	took := time.Since(start)
	c.metrics.fetches.inc()
	c.recordCost(qk, took)
	if err != nil && !errors.Is(err, ErrNotFound) {
		c.metrics.fetchErrors.inc()
		if c.opts.FetchTimeout > 0 && errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = &TimeoutError{Key: qk, Timeout: c.opts.FetchTimeout}
		}
	}
	if c.events.active() {
		c.events.emit(Event{Type: EventFetch, Key: qk, Err: err, Duration: took})
	}
	return val, err
}

// storeFetched writes a fetched value (or a negative entry) under the fence.
func (c *core) storeFetched(qk string, fc fence, val any, negative bool, co *callOptions) {
	entries, err := c.buildEntries(c.clock.NowNano(), qk, val, negative, co)
	if err != nil {
		c.unstorable(qk, err)
		return
	}
	// The store must not be cut short by the callers leaving: it is quick,
	// and a half-written stack is worse than a finished write.
	if !c.fences.writeIfCurrent(fc, func() { _ = c.writeLayers(c.detached, qk, entries) }) {
		c.metrics.fencedWrites.inc()
	}
}

// unstorable counts and reports a fetched value of qk that could not be
// made into entries (it does not encode, or it is too large); the callers
// still get it.
func (c *core) unstorable(qk string, err error) {
	c.metrics.writeFailures.inc()
	if c.events.active() {
		c.events.emit(Event{Type: EventError, Key: qk, Err: err})
	}
}

// refreshes tracks keys with a background refresh running, so a burst of
// stale hits starts one refresh, not one goroutine per hit.
type refreshes struct {
	mu      sync.Mutex
	running map[string]struct{}
	closed  bool
}

// refreshInBackground starts one background refresh of qk unless one is
// running or the Stack is closing. The goroutine is owned by the Stack:
// Close cancels and waits for it.
func (c *core) refreshInBackground(qk string, fn func(context.Context) (any, error), co callOptions) {
	r := &c.refreshing
	r.mu.Lock()
	if r.closed || !r.markLocked(qk) {
		r.mu.Unlock()
		return
	}
	c.background.Add(1)
	r.mu.Unlock()

	wo := co.clone()
	fc := c.fences.capture(qk)
	c.metrics.refreshes.inc()
	go func() {
		defer c.background.Done()
		defer r.release(qk)
		ctx, cancel := context.WithTimeout(c.life, c.opts.RefreshTimeout)
		defer cancel()
		start := time.Now()
		_, _, err := c.flight.Do(ctx, qk, func(fctx context.Context) (flightResult, error) {
			return c.runFetch(fctx, qk, fc, fn, wo)
		})
		if err != nil {
			c.metrics.refreshErrors.inc()
		}
		if c.events.active() {
			c.events.emit(Event{Type: EventRefresh, Key: qk, Err: err, Duration: time.Since(start)})
		}
	}()
}

// markLocked marks qk as being refreshed and reports whether it was not
// already. The caller holds r.mu.
func (r *refreshes) markLocked(qk string) bool {
	if _, busy := r.running[qk]; busy {
		return false
	}
	if r.running == nil {
		r.running = make(map[string]struct{})
	}
	r.running[qk] = struct{}{}
	return true
}

// release clears the marks of refreshes that ended.
func (r *refreshes) release(qks ...string) {
	r.mu.Lock()
	for _, qk := range qks {
		delete(r.running, qk)
	}
	r.mu.Unlock()
}

// beginRefreshes marks the keys qkeys[i], i in idx, as being refreshed, as
// refreshInBackground does for one key, and returns the indexes it marked:
// those whose key has no background refresh running (of Get's or of another
// GetMany's). When it marked any, it has registered one goroutine of
// background work, which the caller runs and ends with background.Done and
// release of the marked keys. It marks nothing once the Stack is closing.
func (c *core) beginRefreshes(qkeys []string, idx []int) []int {
	r := &c.refreshing
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	var marked []int
	for _, i := range idx {
		if r.markLocked(qkeys[i]) {
			marked = append(marked, i)
		}
	}
	if len(marked) > 0 {
		c.background.Add(1)
	}
	return marked
}

// beginBackground registers one goroutine of background work, unless the
// Stack is closing; the caller then runs it and calls background.Done.
func (c *core) beginBackground() bool {
	r := &c.refreshing
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	c.background.Add(1)
	return true
}

// stopRefreshes prevents new background refreshes; Close calls it before
// waiting for the running ones.
func (c *core) stopRefreshes() {
	c.refreshing.mu.Lock()
	c.refreshing.closed = true
	c.refreshing.mu.Unlock()
}
