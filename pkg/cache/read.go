package cache

import (
	"context"
)

// hit is what lookup found: the entry is lent (read-only) by the fastest
// layer, or copied into buf.
type hit[T any] struct {
	value T
	lent  *Entry
	buf   Entry
	layer int
	state State
	found bool
}

// entry returns the entry found. (A pointer to buf is not stored in the hit
// itself: that would make the hit escape to the heap.)
func (h *hit[T]) entry() *Entry {
	if h.lent != nil {
		return h.lent
	}
	return &h.buf
}

// lookup reads the layers in order, once each, and returns the first usable
// entry. It captures the key's write fence after the first layer misses:
// everything read after that point may be stored (backfill) or replaced by a
// fetch only if no write of the key happens in between. An L1 hit captures
// nothing, which keeps the hot path free of locks.
//
// A layer that fails is counted and skipped; its error is returned so a miss
// without a fetcher can say why.
func (v *View[T]) lookup(ctx context.Context, qk string, now int64, h *hit[T]) (fc fence, lerr error) {
	c := v.s.c
	for i := range c.layers {
		if i == 1 {
			fc = c.fences.capture(qk)
		}
		l := &c.layers[i]
		var ok bool
		var err error
		if i == 0 && c.lender != nil {
			// A lending layer cannot fail, so it is never degraded.
			h.lent, ok = c.lender.LendEntry(qk)
		} else {
			if c.degraded(l, now) {
				continue
			}
			h.lent = nil
			h.buf, ok, err = l.Get(ctx, qk)
		}
		if err != nil {
			lerr = c.layerErr(l, "get", qk, err)
			continue
		}
		if !ok {
			l.metrics.misses.inc()
			continue
		}
		e := h.entry()
		st := e.State(now)
		if st == StateExpired {
			l.metrics.misses.inc()
			continue
		}
		if !e.Negative {
			if h.value, ok = v.decode(l, qk, e); !ok {
				l.metrics.misses.inc()
				continue
			}
		}
		l.metrics.hits.inc()
		h.layer, h.state, h.found = i, st, true
		return fc, lerr
	}
	h.lent, h.buf = nil, Entry{}
	if len(c.layers) == 1 {
		fc = c.fences.capture(qk)
	}
	return fc, lerr
}

// decode extracts the T held by e. A value of another type in a memory
// layer, or an undecodable payload, is not usable; corrupt payloads are
// deleted from the layer.
func (v *View[T]) decode(l *layerState, qk string, e *Entry) (T, bool) {
	if l.info.Values {
		val, ok := e.Value.(T)
		return val, ok
	}
	p := new(T)
	if err := v.s.c.codec.Unmarshal(e.Payload, p); err != nil {
		v.s.c.corruptEntry(l, qk, err)
		return *p, false
	}
	// Keep the decoded value so backfilling a memory layer does not decode
	// again.
	e.Value = *p
	return *p, true
}

// corruptEntry counts, reports and deletes an undecodable entry.
func (c *core) corruptEntry(l *layerState, qk string, err error) {
	c.metrics.corrupt.inc()
	if c.events.active() {
		c.events.emit(Event{Type: EventCorrupt, Key: qk, Layer: l.info.Name, Err: err})
	}
	// Deleting is best effort: a failure here is reported, the read goes on.
	if derr := l.Delete(c.life, qk); derr != nil {
		_ = c.layerErr(l, "delete", qk, derr)
	}
}

// backfill copies the entry found in layer h.layer into every faster layer,
// keeping its absolute deadlines, unless a write of the key happened since
// fc was captured.
func (v *View[T]) backfill(ctx context.Context, qk string, fc fence, h *hit[T]) {
	c := v.s.c
	src := *h.entry()
	if !src.Negative && src.Value == nil {
		src.Value = h.value
	}
	if src.Payload == nil && !src.Negative && c.needPayloadAbove(h.layer) {
		p, err := c.codec.Marshal(h.value)
		if err != nil {
			return // the value came from a layer, so this cannot normally fail
		}
		src.Payload = p
	}
	stored := c.fences.writeIfCurrent(fc, func() {
		now := c.clock.NowNano()
		for i := 0; i < h.layer; i++ {
			l := &c.layers[i]
			if c.degraded(l, now) {
				continue
			}
			e := src
			if !l.info.Values {
				e.Value = nil
			} else if !l.info.NeedsPayload {
				e.Payload = nil
			}
			if err := l.Set(ctx, qk, e); err != nil {
				c.metrics.writeFailures.inc()
				_ = c.layerErr(l, "backfill", qk, err)
				continue
			}
			c.metrics.backfills.inc()
			if c.events.active() {
				c.events.emit(Event{Type: EventBackfill, Key: qk, Layer: l.info.Name})
			}
		}
	})
	if !stored {
		c.metrics.fencedWrites.inc()
	}
}

// needPayloadAbove reports whether a layer faster than n stores bytes.
func (c *core) needPayloadAbove(n int) bool {
	for i := 0; i < n; i++ {
		if !c.layers[i].info.Values || c.layers[i].info.NeedsPayload {
			return true
		}
	}
	return false
}
