package cache

import (
	"context"
	"reflect"
)

// fetchMany resolves keys[i], i in pending, through the single-flight group,
// as Get resolves a miss: each key another caller is fetching (by Get or
// GetMany) waits for that fetch, and fetch is called once for the others,
// which callers arriving meanwhile wait for in turn. fcs[i] is the fence of
// keys[i]. Unless refresh, the call reads the fastest layer again first and
// keys that waited for another caller's fetch are counted as deduplicated,
// as in Get; a background refresh replaces values on purpose and has no
// caller to count, as in Get's.
//
// It returns the values fetched and, by index into keys, the error of each
// key whose fetch failed. A key fetched as "not found" is in neither.
func (v *View[T]) fetchMany(ctx context.Context, keys, qkeys []string, pending []int, fcs []fence,
	fetch BulkFetcher[T], co *callOptions, refresh bool) (map[string]T, map[int]error) {
	c := v.s.c
	ask := make([]string, len(pending))
	at := make(map[string]int, len(pending)) // qualified key → index into keys
	for j, i := range pending {
		ask[j] = qkeys[i]
		at[qkeys[i]] = i
	}
	results := c.flight.DoMany(ctx, ask, func(fctx context.Context, led []string) (map[string]flightResult, error) {
		return v.fetchLed(fctx, keys, led, at, fcs, fetch, co, !refresh)
	})
	got := make(map[string]T, len(pending))
	var errs map[int]error
	fail := func(i int, err error) {
		if errs == nil {
			errs = make(map[int]error)
		}
		errs[i] = err
	}
	for j, r := range results {
		i := pending[j]
		if r.Shared && !refresh {
			c.metrics.dedupes.inc()
			if c.events.active() {
				c.events.emit(Event{Type: EventDedupe, Key: qkeys[i]})
			}
		}
		if r.Err != nil {
			fail(i, r.Err)
			continue
		}
		switch val, found, err := valueOf[T](qkeys[i], r.Val); {
		case err != nil:
			fail(i, err)
		case found:
			got[keys[i]] = val
		}
	}
	return got, errs
}

// fetchLed is the call fetchMany leads: it fetches the led keys
// (qualified) with one call of fetch, or through Options.Coordinator when
// it coordinates many keys, and returns each key's result. Keys fetch does
// not return are "not found"; a key whose fetch failed has its error, so
// that the others keep their results (fetchLed itself never fails).
func (v *View[T]) fetchLed(ctx context.Context, keys, led []string, at map[string]int, fcs []fence,
	fetch BulkFetcher[T], co *callOptions, recheck bool) (map[string]flightResult, error) {
	c := v.s.c
	out := make(map[string]flightResult, len(led))
	if recheck {
		led = v.recheckMany(ctx, led, c.layers[:1], out)
		if len(led) == 0 {
			return out, nil
		}
		if bc, ok := c.opts.Coordinator.(BulkCoordinator); ok {
			v.coordinatedMany(ctx, keys, led, at, fcs, fetch, co, bc, out)
			return out, nil
		}
	}
	v.fetchInto(ctx, keys, led, at, fcs, fetch, co, out)
	return out, nil
}

// fetchInto calls fetch once for the keys of qkeys (qualified), stores what
// it returns under their fences, and puts each key's result in out: its
// value, "not found", or the fetch's error.
func (v *View[T]) fetchInto(ctx context.Context, keys, qkeys []string, at map[string]int, fcs []fence,
	fetch BulkFetcher[T], co *callOptions, out map[string]flightResult) {
	ask := make([]string, len(qkeys))
	for j, qk := range qkeys {
		ask[j] = keys[at[qk]]
	}
	var got map[string]T
	_, err := v.s.c.callFetcher(ctx, "", co.group, func(ctx context.Context) (any, error) {
		var err error
		got, err = fetch(ctx, ask)
		return nil, err
	})
	if err != nil {
		for _, qk := range qkeys {
			out[qk] = flightResult{err: err}
		}
		return
	}
	dropUnasked(got, ask)
	for j, qk := range qkeys {
		if val, ok := got[ask[j]]; ok {
			out[qk] = flightResult{value: val}
		} else {
			out[qk] = flightResult{negative: true}
		}
	}
	v.storeFetchedMany(ctx, qkeys, ask, got, at, fcs, co)
}

// storeFetchedMany writes the values a bulk fetch returned (and "not found"
// entries for the keys it did not, when negative caching is on) under their
// fences. As storeFetched does for Get, a value that cannot be stored is
// counted and reported, and still returned to the callers.
func (v *View[T]) storeFetchedMany(ctx context.Context, led, ask []string, got map[string]T, at map[string]int,
	fcs []fence, co *callOptions) {
	c := v.s.c
	now := c.clock.NowNano()
	var itemFences []fence
	perLayer := make([][]Item, len(c.layers))
	for j, qk := range led {
		val, ok := got[ask[j]]
		if !ok && c.negativeTTL(co) == 0 {
			continue
		}
		entries, err := c.buildEntries(now, qk, val, !ok, co)
		if err != nil {
			c.unstorable(qk, err)
			continue
		}
		for li := range perLayer {
			perLayer[li] = append(perLayer[li], Item{Key: qk, Entry: entries[li]})
		}
		itemFences = append(itemFences, fcs[at[qk]])
	}
	if len(itemFences) == 0 {
		return
	}
	wctx := context.WithoutCancel(ctx)
	// A layer that fails to store a fetched value is counted and reported by
	// writeManyLayers; the callers still get the values.
	fenced := c.fences.writeManyIfCurrent(itemFences, func(current []int) {
		_ = c.writeManyLayers(wctx, perLayer, current)
	})
	c.metrics.fencedWrites.add(uint64(fenced))
}

// recheckMany is recheck for many keys: it reads layers quietly, in order,
// each once for the keys still to fetch, puts the results of fresh entries
// in out, and returns the keys still to fetch.
func (v *View[T]) recheckMany(ctx context.Context, qkeys []string, layers []layerState, out map[string]flightResult) []string {
	for i := range layers {
		if len(qkeys) == 0 {
			break
		}
		l := &layers[i]
		entries, found, err := l.GetMany(ctx, qkeys)
		if err != nil {
			continue
		}
		rest := qkeys[:0:0]
		for j, qk := range qkeys {
			if r, ok := v.freshResult(l, found[j], &entries[j]); ok {
				out[qk] = r
				continue
			}
			rest = append(rest, qk)
		}
		qkeys = rest
	}
	return qkeys
}

// appendDistinct appends err to errs unless an equal error is there.
// Errors of types that cannot be compared are always appended.
func appendDistinct(errs []error, err error) []error {
	t := reflect.TypeOf(err)
	if t.Comparable() {
		for _, e := range errs {
			if reflect.TypeOf(e) == t && e == err {
				return errs
			}
		}
	}
	return append(errs, err)
}
