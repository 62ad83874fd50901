package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// clone copies what a write keeps of co, so the caller's option slices never
// escape to the heap on the hit path.
func (co *callOptions) clone() *callOptions {
	// Field by field: copying *co whole would make escape analysis think the
	// caller's slices reach the heap.
	return &callOptions{
		ttl: co.ttl, swr: co.swr, sie: co.sie, negTTL: co.negTTL,
		hasTTL: co.hasTTL, hasSWR: co.hasSWR, hasSIE: co.hasSIE, hasNegTTL: co.hasNegTTL,
		jitter: co.jitter, refreshAhead: co.refreshAhead, hasJitter: co.hasJitter, hasRefreshAhead: co.hasRefreshAhead,
		sliding: co.sliding, hasSliding: co.hasSliding, policy: strings.Clone(co.policy),
		group:    strings.Clone(co.group),
		tags:     cloneTags(co.tags),
		layerTTL: cloneLayerTTL(co.layerTTL),
	}
}

// cloneTags deep-copies tags. Copying the strings one by one (rather than
// slices.Clone) keeps escape analysis from concluding that the caller's
// variadic Tags array reaches the heap, which would cost an allocation on
// every call, hits included.
func cloneTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = strings.Clone(t)
	}
	return out
}

// cloneLayerTTL keeps the LayerTTL options of opts, without their tags.
func cloneLayerTTL(opts []Option) []Option {
	var out []Option
	for _, o := range opts {
		if o.kind == optLayerTTL {
			out = append(out, Option{kind: optLayerTTL, layer: strings.Clone(o.layer), d: o.d})
		}
	}
	return out
}

// ttlFor resolves the base fresh TTL of layer l for a write: per-call
// LayerTTL, per-call TTL, the call's or the Stack's TTL policy,
// Options.Layers, Options.TTL — the first that is set.
func (c *core) ttlFor(l *layerState, co *callOptions, now int64) time.Duration {
	for _, o := range co.layerTTL {
		if o.kind == optLayerTTL && o.layer == l.info.Name {
			return o.d
		}
	}
	if co.hasTTL {
		return co.ttl
	}
	p := c.opts.TTLPolicy
	if co.policy != "" {
		p = c.opts.TTLPolicies[co.policy]
	}
	if p != nil {
		if d := p.TTL(time.Unix(0, now).UTC()); d > 0 {
			return d
		}
	}
	if lo, ok := c.opts.Layers[l.info.Name]; ok && lo.TTL != nil {
		return *lo.TTL
	}
	return c.opts.TTL
}

// buildEntries returns the entry to write into each layer, with that layer's
// deadlines. value is encoded once if any layer stores bytes.
func (c *core) buildEntries(now int64, key string, value any, negative bool, co *callOptions) ([]Entry, error) {
	var payload []byte
	if !negative && c.needPayload {
		p, err := c.codec.Marshal(value)
		if err != nil {
			return nil, fmt.Errorf("cache: encode %T: %w", value, err)
		}
		if len(p) > c.opts.MaxValueBytes {
			return nil, fmt.Errorf("%w: encoded value is %d bytes, Options.MaxValueBytes is %d",
				ErrTooLarge, len(p), c.opts.MaxValueBytes)
		}
		payload = p
	}
	entries := make([]Entry, len(c.layers))
	for i := range c.layers {
		l := &c.layers[i]
		swr, sie := c.windows(l, co)
		e := Entry{Tags: co.tags, Negative: negative}
		if !negative {
			if l.info.Values {
				e.Value = value
			}
			if !l.info.Values || l.info.NeedsPayload {
				e.Payload = payload
			}
		}
		var ttl time.Duration
		if negative {
			ttl = c.layerNegativeTTL(l, co)
			if ttl <= 0 {
				// No negative caching in this layer. A zero FreshUntil
				// would mean "never stale", so the entry is written as
				// already expired instead, which makes the layer drop
				// the key's older entry rather than keep absence forever.
				e.FreshUntil = now
				entries[i] = e
				continue
			}
		} else {
			ttl = c.writeTTL(key, l, co, now)
		}
		if ttl > 0 {
			e.FreshUntil = now + int64(ttl)
			if swr > 0 && !negative {
				e.StaleUntil = e.FreshUntil + int64(swr)
			}
			if sie > 0 && !negative {
				e.ErrorUntil = e.FreshUntil + int64(sie)
			}
		}
		entries[i] = e
	}
	return entries, nil
}

// negativeTTL is how long a "not found" is cached in layer l (nil: the
// Stack-wide value, used to decide whether to cache absence at all).
func (c *core) negativeTTL(co *callOptions) time.Duration {
	if co.hasNegTTL {
		return co.negTTL
	}
	return c.opts.NegativeTTL
}

// layerNegativeTTL is negativeTTL for one layer.
func (c *core) layerNegativeTTL(l *layerState, co *callOptions) time.Duration {
	if co.hasNegTTL {
		return co.negTTL
	}
	return pick(c.opts.Layers[l.info.Name].NegativeTTL, c.opts.NegativeTTL)
}

// windows resolves the stale windows of layer l: call, layer, Stack.
func (c *core) windows(l *layerState, co *callOptions) (swr, sie time.Duration) {
	lo := c.opts.Layers[l.info.Name]
	swr = pick(lo.StaleWhileRevalidate, c.opts.StaleWhileRevalidate)
	sie = pick(lo.StaleIfError, c.opts.StaleIfError)
	if co.hasSWR {
		swr = co.swr
	}
	if co.hasSIE {
		sie = co.sie
	}
	return swr, sie
}

// pick returns *override when set, else def.
func pick(override *time.Duration, def time.Duration) time.Duration {
	if override != nil {
		return *override
	}
	return def
}

// set writes entries (one per layer) as a write of qk: it supersedes running
// fetches of the key. Every layer is attempted; failures are joined.
func (c *core) set(ctx context.Context, qk string, entries []Entry) error {
	var err error
	c.fences.write(qk, func() {
		err = c.writeLayers(ctx, qk, entries)
	})
	c.flight.Forget(qk)
	if c.opts.BroadcastWrites {
		c.publish(ctx, BusMessage{Kind: BusWrite, Keys: []string{qk}})
	}
	return err
}

// writeLayers stores entries[i] in layer i, fastest last, so a reader that
// finds the new value in L1 finds it in the slower layers too.
func (c *core) writeLayers(ctx context.Context, qk string, entries []Entry) error {
	var errs []error
	attempted := 0
	now := c.clock.NowNano()
	for i := len(c.layers) - 1; i >= 0; i-- {
		l := &c.layers[i]
		if c.degraded(l, now) {
			continue
		}
		attempted++
		if err := l.Set(ctx, qk, entries[i]); err != nil {
			c.metrics.writeFailures.inc()
			errs = append(errs, c.layerErr(l, "set", qk, err))
		}
	}
	err := c.writeResult(errs, attempted)
	if terr := c.track(ctx, qk, entries); terr != nil {
		err = errors.Join(err, terr)
	}
	c.metrics.sets.inc()
	if c.events.active() {
		c.events.emit(Event{Type: EventSet, Key: qk})
	}
	return err
}

// track records the tags of a written key, replacing its old ones (a write
// without tags drops them), until the longest-lived layer drops the entry.
func (c *core) track(ctx context.Context, qk string, entries []Entry) error {
	var expiresAt int64
	for i := range entries {
		exp := entries[i].ExpiresAt()
		if exp == 0 {
			expiresAt = 0
			break
		}
		expiresAt = max(expiresAt, exp)
	}
	if err := c.tags.Track(ctx, qk, entries[0].Tags, expiresAt); err != nil {
		c.metrics.tagErrors.inc()
		return fmt.Errorf("cache: tag index: track %q: %w", qk, err)
	}
	return nil
}

// untrack drops keys from the tag index.
func (c *core) untrack(ctx context.Context, keys []string) error {
	if err := c.tags.Untrack(ctx, keys); err != nil {
		c.metrics.tagErrors.inc()
		return fmt.Errorf("cache: tag index: untrack: %w", err)
	}
	return nil
}

// Delete removes key from every layer and supersedes running fetches of it.
// Failures of individual layers are joined; the other layers are still
// cleaned.
func (s *Stack) Delete(ctx context.Context, key string) error {
	c := s.c
	if c.closed.Load() {
		return ErrClosed
	}
	qk, err := s.qualify(key)
	if err != nil {
		return err
	}
	c.fences.write(qk, func() {
		err = c.deleteLayers(ctx, qk)
	})
	c.flight.Forget(qk)
	c.profiles.forget(qk)
	c.publish(ctx, BusMessage{Kind: BusDelete, Keys: []string{qk}})
	return err
}

func (c *core) deleteLayers(ctx context.Context, qk string) error {
	var errs []error
	now := c.clock.NowNano()
	for i := len(c.layers) - 1; i >= 0; i-- {
		l := &c.layers[i]
		if c.degraded(l, now) {
			continue
		}
		if err := l.Delete(ctx, qk); err != nil {
			errs = append(errs, c.layerErr(l, "delete", qk, err))
		}
	}
	if err := c.untrack(ctx, []string{qk}); err != nil {
		errs = append(errs, err)
	}
	c.metrics.deletes.inc()
	if c.events.active() {
		c.events.emit(Event{Type: EventDelete, Key: qk})
	}
	return errors.Join(errs...)
}
