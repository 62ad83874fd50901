package cache

import (
	"context"
	"errors"
)

// Fetcher loads the value of a key from the source of truth on a miss. It
// receives a context that ends when every caller waiting for it has left, on
// Options.FetchTimeout, or on Close. Return ErrNotFound (or an error wrapping
// it) for "absent at the source".
type Fetcher[T any] func(ctx context.Context) (T, error)

// View is a typed window on a Stack: values of type T go in and come out, so
// call sites need no type assertions. Create one with Typed; it is cheap and
// safe for concurrent use.
//
// Memory layers keep the T itself: callers must not mutate a value after
// Set, or one they got from Get, if T holds pointers, maps or slices.
// Byte layers keep T encoded by the Stack's codec.
type View[T any] struct {
	s      *Stack
	loader Loader[T] // for Load; nil unless made by WithLoader
}

// Loader loads the value of a key from the source of truth: a Fetcher that
// is told the key. Set it once with WithLoader, and Load calls it on misses
// without a closure per call.
type Loader[T any] func(ctx context.Context, key string) (T, error)

// WithLoader returns a view of the same Stack whose Load calls loader on a
// miss. loader receives the key as passed to Load (without namespace).
//
// Prefer it on hot paths: a fetcher passed to Get that captures variables is
// a closure the compiler must allocate on every call, hits included, because
// a fetch can outlive the call; Load allocates nothing on a hit.
func (v *View[T]) WithLoader(loader Loader[T]) *View[T] {
	return &View[T]{s: v.s, loader: loader}
}

// Load is Get with the view's Loader as fetcher. Without a Loader it is
// Get without a fetcher (a miss returns ErrMiss).
func (v *View[T]) Load(ctx context.Context, key string, opts ...Option) (T, error) {
	return v.get(ctx, key, nil, v.loader != nil, opts)
}

// Typed returns a view of s for values of type T.
//
// Two views with different T should not share keys: a memory layer holding a
// value of another type reports a miss for that layer.
func Typed[T any](s *Stack) *View[T] {
	return &View[T]{s: s}
}

// Stack returns the Stack the view reads and writes.
func (v *View[T]) Stack() *Stack { return v.s }

// Get returns the value stored under key.
//
// It reads the layers in order and returns the first usable entry, copying it
// into the faster layers (backfill). On a miss it calls fetch, once across
// all concurrent callers of the key, stores the result in every layer and
// returns it; without a fetcher a miss is ErrMiss. A cached "not found"
// (negative caching) returns ErrNotFound.
//
// Stale entries: within the stale-while-revalidate window the stale value is
// returned at once and one background refresh runs; within the
// stale-if-error window fetch runs first and the stale value is returned
// only if it fails.
func (v *View[T]) Get(ctx context.Context, key string, fetch Fetcher[T], opts ...Option) (T, error) {
	return v.get(ctx, key, fetch, false, opts)
}

// get is Get; with useLoader, the fetcher is the view's Loader, bound to key
// only on a miss (so a hit creates no closure).
func (v *View[T]) get(ctx context.Context, key string, fetch Fetcher[T], useLoader bool, opts []Option) (T, error) {
	var zero T
	c := v.s.c
	if c.closed.Load() {
		return zero, ErrClosed
	}
	qk, err := v.s.qualify(key)
	if err != nil {
		return zero, err
	}
	var co callOptions
	if len(opts) > 0 {
		if co, err = c.resolve(opts); err != nil {
			return zero, err
		}
	}
	now := c.clock.NowNano()
	var h hit[T] // filled in place: a hit carries an Entry, too big to copy around
	fc, lerr := v.lookup(ctx, qk, now, &h)
	if useLoader && (!h.found || h.state != StateFresh || c.freshPolicies(&co)) {
		fetch = v.bind(key)
	}
	if !h.found {
		c.metrics.misses.inc()
		if c.events.active() {
			c.events.emit(Event{Type: EventMiss, Key: qk})
		}
		if fetch == nil {
			if lerr != nil {
				return zero, errors.Join(ErrMiss, lerr)
			}
			return zero, ErrMiss
		}
		return v.fetch(ctx, qk, fc, fetch, &co)
	}
	if h.layer > 0 {
		v.backfill(ctx, qk, fc, &h)
	}
	if h.entry().Negative {
		c.metrics.negativeHits.inc()
	}
	switch h.state {
	case StateFresh:
		if c.events.active() {
			c.events.emit(Event{Type: EventHit, Key: qk, Layer: c.layers[h.layer].info.Name, State: h.state})
		}
		if c.freshPolicies(&co) {
			e := h.entry()
			if c.freshHit(ctx, qk, e.FreshUntil, e.Negative, &co, now, fetch != nil) {
				c.refreshInBackground(qk, v.fetchFunc(fetch), co)
			}
		}
	case StateStale:
		c.served(qk, h.layer, h.state)
		if fetch != nil {
			c.refreshInBackground(qk, v.fetchFunc(fetch), co)
		}
	case StateStaleIfError:
		if fetch != nil {
			fresh, ferr := v.fetch(ctx, qk, c.fences.capture(qk), fetch, &co)
			if ferr == nil || errors.Is(ferr, ErrNotFound) {
				return fresh, ferr
			}
			c.metrics.refreshErrors.inc()
		}
		c.served(qk, h.layer, h.state)
	}
	if h.entry().Negative {
		return zero, ErrNotFound
	}
	return h.value, nil
}

// bind returns the view's Loader as a Fetcher for key.
func (v *View[T]) bind(key string) Fetcher[T] {
	loader := v.loader
	return func(ctx context.Context) (T, error) { return loader(ctx, key) }
}

// served counts and reports a stale serve.
func (c *core) served(qk string, layer int, st State) {
	c.metrics.staleHits.inc()
	if c.events.active() {
		c.events.emit(Event{Type: EventStaleServe, Key: qk, Layer: c.layers[layer].info.Name, State: st})
	}
}

// Set stores value under key in every layer. It supersedes any fetch of key
// that is still running: that fetch's result will not be stored.
func (v *View[T]) Set(ctx context.Context, key string, value T, opts ...Option) error {
	c := v.s.c
	if c.closed.Load() {
		return ErrClosed
	}
	qk, err := v.s.qualify(key)
	if err != nil {
		return err
	}
	co, err := c.resolve(opts)
	if err != nil {
		return err
	}
	entries, err := c.buildEntries(c.clock.NowNano(), qk, value, false, &co)
	if err != nil {
		return err
	}
	return c.set(ctx, qk, entries)
}

// fetchFunc adapts a typed fetcher to the untyped flight.
func (v *View[T]) fetchFunc(fetch Fetcher[T]) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) { return fetch(ctx) }
}

// fetch resolves a miss through the single-flight group.
func (v *View[T]) fetch(ctx context.Context, qk string, fc fence, fetch Fetcher[T], co *callOptions) (T, error) {
	var zero T
	c := v.s.c
	wo := co.clone()
	res, shared, err := c.flight.Do(ctx, qk, func(fctx context.Context) (flightResult, error) {
		// A caller can miss in the layers, then reach the flight just after
		// the previous fetch of the key stored its value and left the group.
		// Without this check it would fetch a second time. The fastest layer
		// is re-read quietly (no counters, no events): the previous fetch
		// wrote it last, before leaving the group.
		if r, ok := v.recheck(fctx, qk); ok {
			return r, nil
		}
		if c.opts.Coordinator != nil {
			return v.coordinated(fctx, qk, fc, fetch, wo)
		}
		return c.runFetch(fctx, qk, fc, v.fetchFunc(fetch), wo)
	})
	if shared {
		c.metrics.dedupes.inc()
		if c.events.active() {
			c.events.emit(Event{Type: EventDedupe, Key: qk})
		}
	}
	if err != nil {
		return zero, err
	}
	val, found, err := valueOf[T](qk, res)
	if err == nil && !found {
		err = ErrNotFound
	}
	return val, err
}

// valueOf turns a flight's result for qk into a T: found is false for a
// "not found", and err is the key's failure (in a GetMany's fetch, which
// reports failures key by key) or a value of another type than T.
func valueOf[T any](qk string, r flightResult) (val T, found bool, err error) {
	switch {
	case r.err != nil:
		return val, false, r.err
	case r.negative:
		return val, false, nil
	}
	val, ok := r.value.(T)
	if !ok && r.value != nil {
		return val, false, &TypeError{Key: qk, Got: r.value, Want: val}
	}
	return val, true, nil
}

// recheck reports a fresh entry in the fastest layer, if there is one.
func (v *View[T]) recheck(ctx context.Context, qk string) (flightResult, bool) {
	return v.recheckLayer(ctx, qk, &v.s.c.layers[0])
}

// recheckAll reports a fresh entry in any layer, fastest first.
func (v *View[T]) recheckAll(ctx context.Context, qk string) (flightResult, bool) {
	for i := range v.s.c.layers {
		if r, ok := v.recheckLayer(ctx, qk, &v.s.c.layers[i]); ok {
			return r, true
		}
	}
	return flightResult{}, false
}

// recheckLayer reads l quietly (no counters, no events, no backfill).
func (v *View[T]) recheckLayer(ctx context.Context, qk string, l *layerState) (flightResult, bool) {
	e, ok, err := l.Get(ctx, qk)
	if err != nil {
		return flightResult{}, false
	}
	return v.freshResult(l, ok, &e)
}

// freshResult returns the result an entry read again from l gives a
// fetch: found, fresh, and decodable.
func (v *View[T]) freshResult(l *layerState, found bool, e *Entry) (flightResult, bool) {
	c := v.s.c
	if !found || e.State(c.clock.NowNano()) != StateFresh {
		return flightResult{}, false
	}
	if e.Negative {
		return flightResult{negative: true}, true
	}
	if !l.info.Values {
		p := new(T)
		if c.codec.Unmarshal(e.Payload, p) != nil {
			return flightResult{}, false
		}
		return flightResult{value: *p}, true
	}
	val, ok := e.Value.(T)
	return flightResult{value: val}, ok
}
