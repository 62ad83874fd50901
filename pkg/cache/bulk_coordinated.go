package cache

import (
	"context"
	"sync"
)

// coordinatedMany resolves GetMany's led keys through a BulkCoordinator,
// as coordinated does for Get's: this instance fetches, in one call, the
// keys no other instance is fetching, and receives the others' results.
// The results go to out. Keys whose coordination failed because Redis is
// unreachable are fetched here, uncoordinated, in one more call; those
// whose wait ended (the caller's context, the wait timeout) fail.
func (v *View[T]) coordinatedMany(ctx context.Context, keys, led []string, at map[string]int, fcs []fence,
	fetch BulkFetcher[T], co *callOptions, bc BulkCoordinator, out map[string]flightResult) {
	c := v.s.c
	var mu sync.Mutex                       // guards out and mine while the coordinator calls fetch
	mine := make(map[string]bool, len(led)) // keys this instance resolved itself
	res, errs := bc.DoMany(ctx, led, func(ctx context.Context, lk []string) map[string]Result {
		got := make(map[string]flightResult, len(lk))
		// Double-checked, as in coordinated: the previous leader may have
		// stored a key after this instance read the layers.
		if rest := v.recheckMany(ctx, lk, c.layers, got); len(rest) > 0 {
			v.fetchInto(ctx, keys, rest, at, fcs, fetch, co, got)
		}
		results := make(map[string]Result, len(lk))
		mu.Lock()
		defer mu.Unlock()
		for _, qk := range lk {
			out[qk], mine[qk] = got[qk], true
			results[qk] = c.toRemote(got[qk])
		}
		return results
	})
	mu.Lock()
	defer mu.Unlock()
	var alone []string
	for _, qk := range led {
		if mine[qk] {
			continue // the leader's callers get its own values, not copies through the codec
		}
		if err, failed := errs[qk]; failed {
			if fatal := c.coordinationFailed(ctx, qk, err); fatal != nil {
				out[qk] = flightResult{err: fatal}
			} else {
				alone = append(alone, qk)
			}
			continue
		}
		r, err := v.fromRemote(qk, res[qk])
		if err != nil {
			r = flightResult{err: err}
		}
		out[qk] = r
	}
	if len(alone) > 0 {
		v.fetchInto(ctx, keys, alone, at, fcs, fetch, co, out)
	}
}
