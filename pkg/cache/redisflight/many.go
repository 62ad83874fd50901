package redisflight

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/layercache/layercache/pkg/cache"
)

var _ cache.BulkCoordinator = (*Coordinator)(nil)

// DoMany is Do for many keys with one fetch. It claims each key's lease as
// Do does, all in one pipeline; fetch is called once for the keys whose
// lease this call won, while it waits, as Do waits and concurrently, for
// the Results of the others. A waiter that takes over from a leader that
// disappeared calls fetch for its key alone. fetch returns a Result per key
// it is given; a key it leaves out is not found.
//
// It returns a Result per key and, for each key whose coordination failed
// (a claim that did not reach Redis, a wait that ended with ctx, the wait
// timeout or Close, an invalid key), an error as Do's; every key is in one
// of the two maps. The leases of the keys this call leads are renewed as
// Do's are, and their Results published together in one pipeline (an
// abandoned leadership is released as Do's is). If fetch panics, every led
// key's waiters receive a Result saying so and the panic continues in the
// caller; the waits of the other keys end by themselves (ctx, the wait
// timeout or Close). A fetch that panics after taking over a key panics in
// the caller too, once every wait has ended.
func (c *Coordinator) DoMany(ctx context.Context, keys []string,
	fetch func(ctx context.Context, keys []string) map[string]cache.Result,
) (map[string]cache.Result, map[string]error) {
	var mu sync.Mutex // guards results and errs once the waits run
	results := make(map[string]cache.Result, len(keys))
	errs := make(map[string]error)
	fail := func(key string, err error) {
		mu.Lock()
		errs[key] = err
		mu.Unlock()
	}
	select {
	case <-c.closing:
		for _, k := range keys {
			errs[k] = ErrClosed
		}
		return results, errs
	default:
	}
	type waiter struct {
		key, token, fence string
		n                 names
	}
	var valid []string
	for _, key := range keys {
		if err := cache.ValidateKey(key); err != nil {
			fail(key, fmt.Errorf("redisflight: %w", err))
			continue
		}
		valid = append(valid, key)
	}
	ns, tokens := make([]names, len(valid)), make([]string, len(valid))
	for i, key := range valid {
		ns[i], tokens[i] = namesFor(c.cfg.Prefix, key), rand.Text()
	}
	replies, claimErrs := c.claimNew(ctx, ns, tokens)
	var leads []*leadership
	var waits []waiter
	for i, key := range valid {
		r, err := replies[i], claimErrs[i]
		switch {
		case err != nil:
			fail(key, fmt.Errorf("redisflight: claim %q: %w", key, err))
		case r.outcome == claimLed:
			leads = append(leads, c.beginLead(ctx, key, ns[i], r.value))
		default:
			waits = append(waits, waiter{key: key, token: tokens[i], fence: fenceOf(r.value), n: ns[i]})
		}
	}
	var wg sync.WaitGroup
	var panicked any // the first panic of a fetch run by a wait that took over; guarded by mu
	for _, w := range waits {
		wg.Go(func() {
			defer func() {
				// lead published the panic to the key's waiters; it
				// continues in DoMany's caller, not on this goroutine.
				if r := recover(); r != nil {
					mu.Lock()
					if panicked == nil {
						panicked = r
					}
					mu.Unlock()
				}
			}()
			res, err := c.wait(ctx, w.key, w.n, w.token, w.fence, func(ctx context.Context) cache.Result {
				return resultFor(fetch(ctx, []string{w.key}), w.key)
			})
			if err != nil {
				fail(w.key, err)
				return
			}
			mu.Lock()
			results[w.key] = res
			mu.Unlock()
		})
	}
	if len(leads) > 0 {
		c.leadMany(ctx, leads, fetch, func(key string, res cache.Result, err error) {
			if err != nil {
				fail(key, err)
				return
			}
			mu.Lock()
			results[key] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
	return results, errs
}

// leadMany runs fetch once for the keys of leads, then ends each
// leadership with its key's Result, as lead does for one, and reports each
// key's outcome to done.
func (c *Coordinator) leadMany(ctx context.Context, leads []*leadership,
	fetch func(context.Context, []string) map[string]cache.Result,
	done func(key string, res cache.Result, err error),
) {
	keys := make([]string, len(leads))
	for i, l := range leads {
		keys[i] = l.key
	}
	defer func() {
		if r := recover(); r != nil {
			for _, l := range leads {
				c.panicked(ctx, l, r)
			}
			panic(r)
		}
	}()
	got := fetch(ctx, keys)
	// End the leaderships as endLead does, with the finishes in one
	// pipeline.
	var finishing []*leadership
	for _, l := range leads {
		res := resultFor(got, l.key)
		if ctx.Err() != nil && res.Err != "" {
			res, err := c.endLead(ctx, l, res) // abandoned: released, not finished
			done(l.key, res, err)
			continue
		}
		l.stopRenewal()
		finishing = append(finishing, l)
	}
	if len(finishing) == 0 {
		return
	}
	cctx, cancel := c.cleanup(ctx)
	defer cancel()
	ns := make([]names, len(finishing))
	for i, l := range finishing {
		ns[i] = l.n
	}
	// As in endLead, a failed finish does not replace the fetch's Result.
	_ = c.runPipelined(cctx, luaFinish, ns, func(i int) []any {
		l := finishing[i]
		return c.finishArgs(l.n, l.lease, l.fence, resultFor(got, l.key))
	})
	for _, l := range finishing {
		done(l.key, resultFor(got, l.key), nil)
	}
}

// resultFor returns key's Result in got: not found when absent.
func resultFor(got map[string]cache.Result, key string) cache.Result {
	if r, ok := got[key]; ok {
		return r
	}
	return cache.Result{NotFound: true}
}
