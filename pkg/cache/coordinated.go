package cache

import (
	"context"
	"errors"
	"fmt"
)

// RemoteFetchError is returned to the callers on this instance when the
// instance that led a coordinated fetch (Options.Coordinator) failed.
type RemoteFetchError struct {
	Key string
	Msg string // the leader's error text
}

func (e *RemoteFetchError) Error() string {
	return fmt.Sprintf("cache: fetch of %q failed on the leading instance: %s", e.Key, e.Msg)
}

// isTimeout reports whether err says a wait timed out (the leader still
// holds the key): then fetching here would defeat the coordination.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// coordinated resolves a miss through Options.Coordinator: if this instance
// leads, it fetches and stores as usual and hands the encoded result to the
// waiting instances; otherwise it decodes the leader's result. Waiters do
// not store: the leader wrote the shared layers, and the next read here
// backfills the local ones.
func (v *View[T]) coordinated(ctx context.Context, qk string, fc fence, fetch Fetcher[T], co *callOptions) (flightResult, error) {
	c := v.s.c
	var (
		led      bool
		local    flightResult
		localErr error
	)
	res, err := c.opts.Coordinator.Do(ctx, qk, func(ctx context.Context) Result {
		led = true
		// Double-checked: the previous leader may have stored the value and
		// released the lease after this instance read the layers. Re-read
		// them (quietly) now that this instance holds the lease.
		if r, ok := v.recheckAll(ctx, qk); ok {
			local = r
		} else {
			local, localErr = c.runFetch(ctx, qk, fc, v.fetchFunc(fetch), co)
		}
		if localErr != nil {
			return Result{Err: localErr.Error()}
		}
		return c.toRemote(local)
	})
	if led {
		// The leader's callers get its own value and error, not a copy that
		// went through the codec.
		return local, localErr
	}
	if err != nil {
		if fatal := c.coordinationFailed(ctx, qk, err); fatal != nil {
			return flightResult{}, fatal
		}
		// The coordination itself failed (Redis unreachable): fetch here,
		// uncoordinated, rather than fail the callers. Availability wins
		// over the one-fetch-per-fleet goal while Redis is down.
		return c.runFetch(ctx, qk, fc, v.fetchFunc(fetch), co)
	}
	return v.fromRemote(qk, res)
}

// toRemote turns this instance's result for a key into the Result handed
// to the instances waiting on it.
func (c *core) toRemote(r flightResult) Result {
	switch {
	case r.err != nil:
		return Result{Err: r.err.Error()}
	case r.negative:
		return Result{NotFound: true}
	}
	p, err := c.codec.Marshal(r.value)
	if err != nil {
		return Result{Err: fmt.Sprintf("encode result: %v", err)}
	}
	return Result{Payload: p}
}

// fromRemote counts and turns the Result of another instance's fetch of qk
// into this one's.
func (v *View[T]) fromRemote(qk string, res Result) (flightResult, error) {
	v.s.c.metrics.remoteResults.inc()
	switch {
	case res.Err != "":
		return flightResult{}, &RemoteFetchError{Key: qk, Msg: res.Err}
	case res.NotFound:
		return flightResult{negative: true}, nil
	}
	p := new(T)
	if err := v.s.c.codec.Unmarshal(res.Payload, p); err != nil {
		return flightResult{}, errors.Join(fmt.Errorf("cache: decode the leading instance's result for %q", qk), err)
	}
	return flightResult{value: *p}, nil
}

// coordinationFailed reports whether err, a failure of the coordination of
// qk, ends the caller's read (its context ended, or the wait for another
// instance's fetch timed out: fetching here would defeat the coordination),
// returning the caller's error; otherwise (Redis unreachable) it counts
// and reports the failure and the caller fetches on its own.
func (c *core) coordinationFailed(ctx context.Context, qk string, err error) (fatal error) {
	if ctx.Err() != nil || isTimeout(err) {
		return fmt.Errorf("cache: coordinated fetch of %q: %w", qk, err)
	}
	c.metrics.coordinatorErrors.inc()
	if c.events.active() {
		c.events.emit(Event{Type: EventError, Key: qk, Err: fmt.Errorf("cache: coordinator: %w", err)})
	}
	return nil
}
