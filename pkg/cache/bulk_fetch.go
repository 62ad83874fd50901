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
		switch {
		case r.Err != nil:
			fail(i, r.Err)
		case r.Val.negative:
		default:
			val, ok := r.Val.value.(T)
			if !ok && r.Val.value != nil {
				var zero T
				fail(i, &TypeError{Key: qkeys[i], Got: r.Val.value, Want: zero})
				continue
			}
			got[keys[i]] = val
		}
	}
	return got, errs
}

// fetchLed is the call fetchMany leads: it fetches the led keys (qualified)
// with one call of fetch, stores the results under their fences, and
// returns each key's result. Keys fetch does not return are "not found".
func (v *View[T]) fetchLed(ctx context.Context, keys, led []string, at map[string]int, fcs []fence,
	fetch BulkFetcher[T], co *callOptions, recheck bool) (map[string]flightResult, error) {
	c := v.s.c
	out := make(map[string]flightResult, len(led))
	if recheck {
		led = v.recheckMany(ctx, led, out)
		if len(led) == 0 {
			return out, nil
		}
	}
	ask := make([]string, len(led))
	for j, qk := range led {
		ask[j] = keys[at[qk]]
	}
	var got map[string]T
	_, err := c.callFetcher(ctx, "", co.group, func(ctx context.Context) (any, error) {
		var err error
		got, err = fetch(ctx, ask)
		return nil, err
	})
	if err != nil {
		return nil, err
	}
	dropUnasked(got, ask)
	for j, qk := range led {
		if val, ok := got[ask[j]]; ok {
			out[qk] = flightResult{value: val}
		} else {
			out[qk] = flightResult{negative: true}
		}
	}
	v.storeFetchedMany(ctx, led, ask, got, at, fcs, co)
	return out, nil
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
			c.metrics.writeFailures.inc()
			if c.events.active() {
				c.events.emit(Event{Type: EventError, Key: qk, Err: err})
			}
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

// recheckMany is recheck for many keys: it reads the fastest layer quietly
// once for all of qkeys, puts the fresh entries' results in out, and returns
// the keys still to fetch.
func (v *View[T]) recheckMany(ctx context.Context, qkeys []string, out map[string]flightResult) []string {
	l := &v.s.c.layers[0]
	entries, found, err := l.GetMany(ctx, qkeys)
	if err != nil {
		return qkeys
	}
	rest := qkeys[:0:0]
	for j, qk := range qkeys {
		if r, ok := v.freshResult(l, found[j], &entries[j]); ok {
			out[qk] = r
			continue
		}
		rest = append(rest, qk)
	}
	return rest
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
