package cache

import (
	"context"
	"errors"
	"fmt"
)

// WritePolicy says when a write that some layers failed is an error.
type WritePolicy uint8

const (
	// WriteStrict fails a write when any layer fails it (the other layers
	// are still written).
	WriteStrict WritePolicy = iota
	// WriteBestEffort fails a write only when every layer fails it; the
	// failures are still counted and reported as events.
	WriteBestEffort
)

// Breaker guards fetches with circuit breakers, one per key or group.
// *breaker.Set from pkg/cache/breaker implements it.
type Breaker interface {
	// Allow reports whether a fetch under key may run. The caller calls
	// done once with the outcome. A refusal is an error that errors.As
	// finds as the breaker's own error type.
	Allow(key string) (done func(success bool), err error)
}

// RateLimiter bounds how fast fetches reach the source.
// *ratelimit.Limiter from pkg/cache/ratelimit implements it.
type RateLimiter interface {
	// Acquire waits for permission to fetch under bucket; release frees
	// the slot when the fetch ends.
	Acquire(ctx context.Context, bucket string) (release func(), err error)
}

// Scope says which fetches share a breaker or a rate-limit bucket.
type Scope uint8

const (
	// ScopeDefault is ScopeKey for breakers and ScopeShared for rate
	// limits: a failing key trips its own breaker, and the source is
	// protected as a whole.
	ScopeDefault Scope = iota
	// ScopeKey gives every key its own breaker or bucket.
	ScopeKey
	// ScopeShared puts every fetch of the Stack behind one.
	ScopeShared
)

// FetchGroup names the group a fetch belongs to for breakers and rate
// limits (e.g. "payments-api"), overriding the Stack's Scope for this call:
// every fetch with the same group shares one breaker and one bucket.
func FetchGroup(name string) Option { return Option{kind: optGroup, layer: name} }

// guardKey is the breaker or bucket name of a fetch. The prefixes keep a key
// literally named "shared" apart from the shared scope.
func guardKey(scope Scope, group, qk string) string {
	switch {
	case group != "":
		return "group:" + group
	case scope == ScopeShared || qk == "":
		return "scope:shared"
	default:
		return "key:" + qk
	}
}

// breakerChecker is implemented by breakers that can refuse a call without
// taking a slot (*breaker.Set does): guarded asks it first, so callers of an
// open breaker fail fast instead of queueing in the rate limiter.
type breakerChecker interface {
	Check(key string) error
}

// guarded runs fn behind the rate limiter and the breaker, when configured.
// The rate limiter comes first: its refusals must never count as failures of
// the source.
func (c *core) guarded(ctx context.Context, qk, group string, fn func(context.Context) (any, error)) (any, error) {
	b := c.opts.Breaker
	if bc, ok := b.(breakerChecker); ok && b != nil {
		if err := bc.Check(guardKey(c.opts.BreakerScope, group, qk)); err != nil {
			return nil, c.breakerRefused(qk, err)
		}
	}
	if rl := c.opts.RateLimiter; rl != nil {
		scope := c.opts.RateLimitScope
		if scope == ScopeDefault {
			scope = ScopeShared
		}
		release, err := rl.Acquire(ctx, guardKey(scope, group, qk))
		if err != nil {
			c.metrics.rateLimited.inc()
			return nil, err
		}
		defer release()
	}
	if b == nil {
		return fn(ctx)
	}
	done, err := b.Allow(guardKey(c.opts.BreakerScope, group, qk))
	if err != nil {
		return nil, c.breakerRefused(qk, err)
	}
	healthy := false
	defer func() { done(healthy) }() // also when fn panics
	val, err := fn(ctx)
	// A "not found" is an answer from a healthy source, not a failure.
	healthy = err == nil || errors.Is(err, ErrNotFound)
	return val, err
}

func (c *core) breakerRefused(qk string, err error) error {
	c.metrics.breakerRejections.inc()
	if c.events.active() {
		c.events.emit(Event{Type: EventBreakerOpen, Key: qk, Err: err})
	}
	return err
}

// degraded reports whether layer l is being skipped after a failure.
func (c *core) degraded(l *layerState, now int64) bool {
	return l.degradedUntil.Load() > now
}

// degrade starts skipping l for Options.DegradeFor after a failure, when
// graceful degradation is on.
func (c *core) degrade(l *layerState) {
	if c.opts.DegradeFor <= 0 {
		return
	}
	until := c.clock.NowNano() + int64(c.opts.DegradeFor)
	if prev := l.degradedUntil.Swap(until); prev < c.clock.NowNano() {
		c.metrics.degradations.inc()
		if c.events.active() {
			c.events.emit(Event{Type: EventDegraded, Layer: l.info.Name})
		}
	}
}

// writeResult applies the write policy to the errors of a write that
// attempted n layers.
func (c *core) writeResult(errs []error, attempted int) error {
	if len(errs) == 0 {
		return nil
	}
	if c.opts.WritePolicy == WriteBestEffort && len(errs) < attempted {
		return nil
	}
	return errors.Join(errs...)
}

// DegradedLayers returns the names of the layers being skipped after a
// failure.
func (s *Stack) DegradedLayers() []string {
	now := s.c.clock.NowNano()
	var out []string
	for i := range s.c.layers {
		if s.c.degraded(&s.c.layers[i], now) {
			out = append(out, s.c.layers[i].info.Name)
		}
	}
	return out
}

func validateResilience(o *Options) error {
	if o.DegradeFor < 0 {
		return fmt.Errorf("cache: Options.DegradeFor is %s; it must not be negative", o.DegradeFor)
	}
	if o.WritePolicy > WriteBestEffort {
		return fmt.Errorf("cache: Options.WritePolicy %d is unknown", o.WritePolicy)
	}
	if o.BreakerScope > ScopeShared || o.RateLimitScope > ScopeShared {
		return fmt.Errorf("cache: unknown Scope in Options.BreakerScope or Options.RateLimitScope")
	}
	return nil
}
