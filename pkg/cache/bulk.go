package cache

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// KeyValue is one item of SetMany.
type KeyValue[T any] struct {
	Key   string
	Value T
}

// BulkFetcher loads the values of missing keys in one call. Keys absent from
// the returned map are "not found" (cached as such when negative caching is
// on). It receives the caller's keys, without namespace prefix.
type BulkFetcher[T any] func(ctx context.Context, keys []string) (map[string]T, error)

// GetMany is Get for many keys. Each layer is read once for all the keys
// still missing (pipelined where the layer supports it), hits are backfilled
// into faster layers, and the keys no layer has are passed to fetch in one
// call. A degraded layer is skipped, as by Get. Counters and events are the
// same as for Get, key by key.
//
// Stale entries are served and refreshed in the background, as by Get.
// Entries in their stale-if-error window are passed to fetch with the
// missing keys, and served only if fetch fails; the error is then returned
// only when some key had no such value to fall back on.
//
// A fresh hit does what it does in Get: it counts towards the key's
// AdaptiveTTL profile, restarts the entry's freshness under SlidingTTL (a
// cached "not found" excepted; each slide reads and writes every layer, key
// by key), and, with a fetcher, makes the key due for a background refresh
// when it is within its RefreshAhead window or EarlyRefresh picks it. The
// keys due, stale ones included, are refreshed together by one background
// call of fetch; a key whose background refresh is already running, started
// by Get or by another GetMany, is left to it, and Get and GetMany start no
// other refresh of the keys while this one runs. Close cancels the refresh
// and waits for it.
//
// The result maps each found key to its value; keys that are missing (with
// no fetcher), cached as not found, or not returned by fetch are absent.
// Missing keys are fetched as Get fetches a miss, in one call for all of
// them: a key that another caller is fetching (by Get or by GetMany) waits
// for that fetch instead, and callers of Get or GetMany that miss a key
// while this call fetches it wait for this fetch. A caller whose context
// ends stops waiting, but a fetch goes on as long as a caller of any of its
// keys waits for it. A key whose fetch failed is absent, and GetMany returns
// the errors of the failed fetches (joined) with the values of the other
// keys. With an Options.Coordinator that is a BulkCoordinator (redisflight
// is), the fetch is shared across instances too: this instance fetches, in
// one call, the missing keys no other instance is fetching, and receives
// the others' results; with another Coordinator, fetches are shared within
// this instance only.
func (v *View[T]) GetMany(ctx context.Context, keys []string, fetch BulkFetcher[T], opts ...Option) (map[string]T, error) {
	c := v.s.c
	if c.closed.Load() {
		return nil, ErrClosed
	}
	co, err := c.resolve(opts)
	if err != nil {
		return nil, err
	}
	keys = dedupe(keys)
	qkeys := make([]string, len(keys))
	for i, k := range keys {
		if qkeys[i], err = v.s.qualify(k); err != nil {
			return nil, err
		}
	}
	now := c.clock.NowNano()
	out := make(map[string]T, len(keys))
	pending := make([]int, len(keys)) // indexes into keys still missing
	for i := range pending {
		pending[i] = i
	}
	fcs := make([]fence, len(keys))
	// due collects the keys to refresh in the background: stale hits, then
	// fresh hits due for refresh-ahead or early refresh.
	var due []int
	// fresh holds the fresh hits, for freshHit once every layer has been
	// read and backfilled; nil unless a fresh-hit policy is on.
	policies := c.freshPolicies(&co)
	var fresh []freshRef
	if policies {
		fresh = make([]freshRef, 0, len(keys))
	}
	// fallback holds the values of entries in their stale-if-error window,
	// which are fetched again (as Get does) and served only if that fails.
	var fallback map[int]fallbackValue[T]
	var lerrs []error
	for li := range c.layers {
		if len(pending) == 0 {
			break
		}
		if li == 1 {
			for _, i := range pending {
				fcs[i] = c.fences.capture(qkeys[i])
			}
		}
		l := &c.layers[li]
		// Skip a degraded layer, as lookup does: reading it would only
		// record more failures against it. (A lending layer cannot fail.)
		if (li > 0 || c.lender == nil) && c.degraded(l, now) {
			continue
		}
		ask := make([]string, len(pending))
		for j, i := range pending {
			ask[j] = qkeys[i]
		}
		entries, found, err := l.GetMany(ctx, ask)
		if err != nil {
			lerrs = append(lerrs, c.layerErr(l, "getmany", "", err))
			continue
		}
		var backfill []Item
		next := pending[:0:0]
		for j, i := range pending {
			e := &entries[j]
			st := e.State(now)
			if !found[j] || st == StateExpired {
				l.metrics.misses.inc()
				next = append(next, i)
				continue
			}
			var val T
			if !e.Negative {
				var ok bool
				if val, ok = v.decode(l, qkeys[i], e); !ok {
					l.metrics.misses.inc()
					next = append(next, i)
					continue
				}
				if st == StateStaleIfError && fetch != nil {
					// Past freshness: fetch it with the misses, and keep
					// this value for the case the fetch fails.
					if fallback == nil {
						fallback = make(map[int]fallbackValue[T])
					}
					fallback[i] = fallbackValue[T]{val: val, layer: li}
					l.metrics.hits.inc()
					next = append(next, i)
					continue
				}
				out[keys[i]] = val
			} else {
				c.metrics.negativeHits.inc()
			}
			l.metrics.hits.inc()
			c.reportHit(qkeys[i], li, st)
			switch {
			case st == StateStale:
				due = append(due, i)
			case st == StateFresh && policies:
				fresh = append(fresh, freshRef{i: i, freshUntil: e.FreshUntil, negative: e.Negative})
			}
			if li > 0 {
				if !e.Negative && e.Value == nil {
					e.Value = val
				}
				backfill = append(backfill, Item{Key: qkeys[i], Entry: *e})
			}
		}
		pending = next
		if len(backfill) > 0 {
			v.backfillMany(ctx, li, backfill, fcs, qkeys)
		}
	}
	// After the backfills, as in Get: a slide rewrites the entry in every
	// layer. Before the fetch's fences are taken: a slide is a write, which
	// would fence off the fetched values of keys sharing its stripe.
	due = c.freshHits(ctx, qkeys, fresh, &co, now, fetch != nil, due)
	for _, i := range pending {
		if _, ok := fallback[i]; ok {
			continue // found, past freshness: not a miss
		}
		c.metrics.misses.inc()
		if c.events.active() {
			c.events.emit(Event{Type: EventMiss, Key: qkeys[i]})
		}
	}
	// The fetch's fences are taken now, just before it starts: a write after
	// this point supersedes it. (Taking them before the layer reads would
	// let this call's own backfills, which bump the fence stripes of the
	// keys they write, fence off unrelated keys that share a stripe.)
	for _, i := range pending {
		fcs[i] = c.fences.capture(qkeys[i])
	}
	if fetch != nil && len(due) > 0 {
		v.refreshManyInBackground(keys, qkeys, due, fetch, co)
	}
	if fetch == nil || len(pending) == 0 {
		if len(pending) > 0 && len(lerrs) > 0 {
			return out, errors.Join(lerrs...)
		}
		return out, nil
	}
	fetched, ferrs := v.fetchMany(ctx, keys, qkeys, pending, fcs, fetch, co.clone(), false)
	for k, val := range fetched {
		out[k] = val
	}
	// A key whose fetch failed is served its entry in the stale-if-error
	// window, as Get serves it. The error stands only for the keys with no
	// such value to fall back on.
	var errs []error
	served := false
	for _, i := range pending {
		ferr, failed := ferrs[i]
		if !failed {
			continue
		}
		if f, ok := fallback[i]; ok {
			out[keys[i]] = f.val
			c.served(qkeys[i], f.layer, StateStaleIfError)
			served = true
			continue
		}
		errs = appendDistinct(errs, ferr)
	}
	if served {
		c.metrics.refreshErrors.inc()
	}
	if len(errs) == 1 {
		return out, errs[0]
	}
	return out, errors.Join(errs...)
}

// reportHit emits the event of a hit in layer li.
func (c *core) reportHit(qk string, li int, st State) {
	if st != StateFresh {
		c.served(qk, li, st)
		return
	}
	if c.events.active() {
		c.events.emit(Event{Type: EventHit, Key: qk, Layer: c.layers[li].info.Name, State: st})
	}
}

// backfillMany copies items found in layer src into every faster layer,
// skipping keys written since their fence was captured.
func (v *View[T]) backfillMany(ctx context.Context, src int, items []Item, fcs []fence, qkeys []string) {
	c := v.s.c
	if c.needPayloadAbove(src) {
		for i := range items {
			e := &items[i].Entry
			if e.Payload == nil && !e.Negative {
				p, err := c.codec.Marshal(e.Value)
				if err != nil {
					continue
				}
				e.Payload = p
			}
		}
	}
	itemFences := make([]fence, len(items))
	pos := make(map[string]int, len(qkeys))
	for i, k := range qkeys {
		pos[k] = i
	}
	for i := range items {
		itemFences[i] = fcs[pos[items[i].Key]]
	}
	fenced := c.fences.writeManyIfCurrent(itemFences, func(current []int) {
		now := c.clock.NowNano()
		for li := 0; li < src; li++ {
			l := &c.layers[li]
			if c.degraded(l, now) {
				continue // as backfill: a failing layer is not written
			}
			batch := make([]Item, 0, len(current))
			for _, i := range current {
				it := items[i]
				if !l.info.Values {
					it.Entry.Value = nil
				} else if !l.info.NeedsPayload {
					it.Entry.Payload = nil
				}
				batch = append(batch, it)
			}
			if err := l.SetMany(ctx, batch); err != nil {
				c.metrics.writeFailures.inc()
				_ = c.layerErr(l, "backfill", "", err)
				continue
			}
			c.metrics.backfills.add(uint64(len(batch)))
			if c.events.active() {
				for _, it := range batch {
					c.events.emit(Event{Type: EventBackfill, Key: it.Key, Layer: l.info.Name})
				}
			}
		}
	})
	c.metrics.fencedWrites.add(uint64(fenced))
}

// fallbackValue is a value GetMany found in its stale-if-error window, in
// layer, to serve if the fetch fails.
type fallbackValue[T any] struct {
	val   T
	layer int
}

// dropUnasked deletes from got the values for keys that are not in ask: a
// bulk fetcher may return more than it was asked for, and only the asked
// keys are the caller's (and are stored).
func dropUnasked[T any](got map[string]T, ask []string) {
	if len(got) == 0 {
		return
	}
	asked := make(map[string]struct{}, len(ask))
	for _, k := range ask {
		asked[k] = struct{}{}
	}
	for k := range got {
		if _, ok := asked[k]; !ok {
			delete(got, k)
		}
	}
}

// writeManyLayers writes perLayer[li][j] for each j in only (nil: all),
// slowest layer first.
func (c *core) writeManyLayers(ctx context.Context, perLayer [][]Item, only []int) error {
	return c.writeManyLayersTo(ctx, perLayer, only, nil)
}

// writeManyLayersTo is writeManyLayers restricted to the layers mask
// selects (nil: every layer).
func (c *core) writeManyLayersTo(ctx context.Context, perLayer [][]Item, only []int, mask []bool) error {
	var errs []error
	attempted := 0
	now := c.clock.NowNano()
	for li := len(c.layers) - 1; li >= 0; li-- {
		l := &c.layers[li]
		if (mask != nil && !mask[li]) || c.degraded(l, now) {
			continue
		}
		attempted++
		batch := perLayer[li]
		if only != nil {
			batch = make([]Item, 0, len(only))
			for _, j := range only {
				batch = append(batch, perLayer[li][j])
			}
		}
		if err := l.SetMany(ctx, batch); err != nil {
			c.metrics.writeFailures.inc()
			errs = append(errs, c.layerErr(l, "setmany", "", err))
		}
	}
	entries := make([]Entry, len(c.layers))
	for j := range perLayer[0] {
		if only != nil && !slices.Contains(only, j) {
			continue
		}
		for li := range perLayer {
			entries[li] = perLayer[li][j].Entry
		}
		if err := c.track(ctx, perLayer[0][j].Key, entries); err != nil {
			errs = append(errs, err)
		}
	}
	n := len(perLayer[0])
	if only != nil {
		n = len(only)
	}
	c.metrics.sets.add(uint64(n))
	if c.events.active() {
		for j := range perLayer[0] {
			if only == nil || slices.Contains(only, j) {
				c.events.emit(Event{Type: EventSet, Key: perLayer[0][j].Key})
			}
		}
	}
	return c.writeResult(errs, attempted)
}

// SetMany stores every item in every layer, using each layer's bulk write.
// Nothing is written if any key or value is invalid.
func (v *View[T]) SetMany(ctx context.Context, items []KeyValue[T], opts ...Option) error {
	c := v.s.c
	if c.closed.Load() {
		return ErrClosed
	}
	co, err := c.resolve(opts)
	if err != nil {
		return err
	}
	now := c.clock.NowNano()
	perLayer := make([][]Item, len(c.layers))
	qkeys := make([]string, len(items))
	for i, it := range items {
		if qkeys[i], err = v.s.qualify(it.Key); err != nil {
			return err
		}
		entries, err := c.buildEntries(now, qkeys[i], it.Value, false, &co)
		if err != nil {
			return fmt.Errorf("cache: SetMany %q: %w", it.Key, err)
		}
		for li := range perLayer {
			perLayer[li] = append(perLayer[li], Item{Key: qkeys[i], Entry: entries[li]})
		}
	}
	if len(items) == 0 {
		return nil
	}
	c.fences.writeMany(qkeys, func() {
		err = c.writeManyLayers(ctx, perLayer, nil)
	})
	for _, k := range qkeys {
		c.flight.Forget(k)
	}
	if c.opts.BroadcastWrites {
		c.publish(ctx, BusMessage{Kind: BusWrite, Keys: qkeys})
	}
	return err
}

// DeleteMany removes keys from every layer using each layer's bulk delete
// (which batches), and supersedes running fetches of them.
func (s *Stack) DeleteMany(ctx context.Context, keys []string) error {
	c := s.c
	if c.closed.Load() {
		return ErrClosed
	}
	qkeys := make([]string, len(keys))
	for i, k := range keys {
		var err error
		if qkeys[i], err = s.qualify(k); err != nil {
			return err
		}
	}
	if len(qkeys) == 0 {
		return nil
	}
	var errs []error
	c.fences.writeMany(qkeys, func() {
		for li := len(c.layers) - 1; li >= 0; li-- {
			l := &c.layers[li]
			if err := l.DeleteMany(ctx, qkeys); err != nil {
				errs = append(errs, c.layerErr(l, "deletemany", "", err))
			}
		}
		if err := c.untrack(ctx, qkeys); err != nil {
			errs = append(errs, err)
		}
	})
	for _, k := range qkeys {
		c.flight.Forget(k)
	}
	c.publish(ctx, BusMessage{Kind: BusDelete, Keys: qkeys})
	c.metrics.deletes.add(uint64(len(qkeys)))
	if c.events.active() {
		for _, k := range qkeys {
			c.events.emit(Event{Type: EventDelete, Key: k})
		}
	}
	return errors.Join(errs...)
}

func dedupe(keys []string) []string {
	seen := make(map[string]bool, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}
