package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Has reports whether Get would return a value for key without fetching:
// some layer holds a non-negative entry that is fresh or inside a stale
// window. A cached "not found" is not a value, so Has reports false for it.
func (s *Stack) Has(ctx context.Context, key string) (bool, error) {
	found, err := s.firstUsable(ctx, key, func(e *Entry, st State) bool { return !e.Negative })
	return found != nil, err
}

// TTL returns how long the value under key stays fresh, from the first layer
// that holds a usable entry. ok is false when no layer has a fresh value.
// An entry that never goes stale reports NoExpiry.
func (s *Stack) TTL(ctx context.Context, key string) (ttl time.Duration, ok bool, err error) {
	now := s.c.clock.NowNano()
	e, err := s.firstUsable(ctx, key, func(e *Entry, st State) bool { return !e.Negative && st == StateFresh })
	if e == nil {
		return 0, false, err
	}
	if e.FreshUntil == 0 {
		return NoExpiry, true, err
	}
	return time.Duration(e.FreshUntil - now), true, err
}

// NoExpiry is the TTL reported for entries that never go stale.
const NoExpiry time.Duration = -1

// firstUsable returns the first entry, in layer order, that is not expired
// and satisfies want.
func (s *Stack) firstUsable(ctx context.Context, key string, want func(*Entry, State) bool) (*Entry, error) {
	c := s.c
	if c.closed.Load() {
		return nil, ErrClosed
	}
	qk, err := s.qualify(key)
	if err != nil {
		return nil, err
	}
	now := c.clock.NowNano()
	var errs []error
	for i := range c.layers {
		l := &c.layers[i]
		e, ok, err := l.Get(ctx, qk)
		if err != nil {
			errs = append(errs, c.layerErr(l, "get", qk, err))
			continue
		}
		if st := e.State(now); ok && st != StateExpired && want(&e, st) {
			return &e, errors.Join(errs...)
		}
	}
	return nil, errors.Join(errs...)
}

// LayerEntry is what one layer holds for a key, as reported by Inspect.
type LayerEntry struct {
	Layer    string
	Found    bool
	State    State
	Negative bool
	// FreshFor is the time left until the entry goes stale (0 when already
	// stale; NoExpiry when it never does).
	FreshFor time.Duration
	// ExpiresIn is the time left until the layer may drop it (NoExpiry when
	// never).
	ExpiresIn time.Duration
	Tags      []string
	// Size is the encoded size in bytes for byte layers, 0 for memory layers.
	Size int
	Err  error
}

// Inspect reports, layer by layer, what is stored under key. It changes
// nothing: no backfill, no counters, no events.
func (s *Stack) Inspect(ctx context.Context, key string) ([]LayerEntry, error) {
	c := s.c
	if c.closed.Load() {
		return nil, ErrClosed
	}
	qk, err := s.qualify(key)
	if err != nil {
		return nil, err
	}
	now := c.clock.NowNano()
	out := make([]LayerEntry, len(c.layers))
	for i := range c.layers {
		l := &c.layers[i]
		e, ok, err := l.Get(ctx, qk)
		le := LayerEntry{Layer: l.info.Name, Found: ok && err == nil, Err: err}
		if le.Found {
			le.State, le.Negative, le.Tags = e.State(now), e.Negative, slices.Clone(e.Tags)
			le.FreshFor, le.ExpiresIn = remaining(e.FreshUntil, now), remaining(e.ExpiresAt(), now)
			if !l.info.Values {
				le.Size = len(e.Payload)
			}
		}
		out[i] = le
	}
	return out, nil
}

func remaining(deadline, now int64) time.Duration {
	if deadline == 0 {
		return NoExpiry
	}
	return time.Duration(max(deadline-now, 0))
}

// Clear removes every entry of the Stack, or of the namespace when s is one,
// from every layer, and supersedes every running fetch. Layers that fail are
// reported; the others are still cleared.
func (s *Stack) Clear(ctx context.Context) error {
	c := s.c
	if c.closed.Load() {
		return ErrClosed
	}
	var errs []error
	c.fences.clearAll(func() {
		for i := range c.layers {
			l := &c.layers[i]
			var err error
			if s.prefix == "" {
				err = l.Clear(ctx) // every generation, too
			} else {
				err = c.deletePrefix(ctx, l, s.fullPrefix())
			}
			if err != nil {
				errs = append(errs, c.layerErr(l, "clear", s.prefix, err))
			}
		}
		if s.prefix == "" {
			if err := c.tags.Clear(ctx); err != nil {
				c.metrics.tagErrors.inc()
				errs = append(errs, fmt.Errorf("cache: tag index: clear: %w", err))
			}
		}
	})
	c.flight.ForgetAll()
	prefix := ""
	if s.prefix != "" {
		prefix = s.fullPrefix()
	}
	c.publish(ctx, BusMessage{Kind: BusClear, Prefix: prefix})
	return errors.Join(errs...)
}

// clearBatch bounds how many keys one DeleteMany call receives.
const clearBatch = 500

// deletePrefix deletes every key of l under prefix, in batches.
func (c *core) deletePrefix(ctx context.Context, l *layerState, prefix string) error {
	batch := make([]string, 0, clearBatch)
	var derr error
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		derr = errors.Join(l.DeleteMany(ctx, batch), c.untrack(ctx, batch))
		batch = batch[:0]
		return derr == nil
	}
	err := l.Scan(ctx, prefix, func(k string) bool {
		batch = append(batch, k)
		if len(batch) == clearBatch {
			return flush()
		}
		return true
	})
	if err == nil && derr == nil {
		flush()
	}
	return errors.Join(err, derr)
}
