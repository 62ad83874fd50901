package redisflight

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// lead runs fetch while holding the lease whose value is lease, then
// publishes the result to the key's waiters and drops the lease.
//
// Failures to renew, publish or release never replace fetch's Result (the
// reference coordinator let a release error do so): the caller gets what
// fetch returned, and waiters that missed the result take over once the
// lease expires.
func (c *Coordinator) lead(ctx context.Context, key string, n names, lease string,
	fetch func(context.Context) cache.Result,
) (cache.Result, error) {
	l := c.beginLead(ctx, key, n, lease)
	defer l.stopRenewal()
	defer func() {
		if r := recover(); r != nil {
			c.panicked(ctx, l, r)
			panic(r)
		}
	}()
	return c.endLead(ctx, l, fetch(ctx))
}

// leadership is a lease held while the fetch of its key runs.
type leadership struct {
	key          string
	n            names
	lease, fence string
	stopRenewal  func() // stops renewing the lease and waits; idempotent
}

// beginLead starts renewing the lease whose value is lease, every
// Options.RenewEvery until the leadership ends.
func (c *Coordinator) beginLead(ctx context.Context, key string, n names, lease string) *leadership {
	stop, renewed := make(chan struct{}), make(chan struct{})
	go c.renew(context.WithoutCancel(ctx), n, lease, stop, renewed)
	return &leadership{key: key, n: n, lease: lease, fence: fenceOf(lease), stopRenewal: sync.OnceFunc(func() {
		close(stop)
		<-renewed
	})}
}

// cleanup returns the context of the Redis work after a fetch, which must
// happen even when ctx has ended; it keeps ctx's values and is bounded by
// the lease, past which it no longer matters.
func (c *Coordinator) cleanup(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Lease)
}

// endLead ends l with the fetch's res: it publishes res and drops the
// lease, or, when ctx has ended and res failed (most likely because of
// that: the failure is not the key's), releases the lease without a result
// so that a waiter fetches at once, and returns an error.
func (c *Coordinator) endLead(ctx context.Context, l *leadership, res cache.Result) (cache.Result, error) {
	l.stopRenewal()
	cctx, cancel := c.cleanup(ctx)
	defer cancel()
	if ctx.Err() != nil && res.Err != "" {
		_ = luaRelease.Run(cctx, c.cfg.Client, l.n.keys(), l.lease, l.fence, l.n.done).Err()
		return cache.Result{}, fmt.Errorf("redisflight: fetch of %q abandoned (%s): %w", l.key, res.Err, context.Cause(ctx))
	}
	_, _ = c.finish(cctx, l.n, l.lease, l.fence, res)
	return res, nil
}

// panicked ends l after its fetch panicked with r: the waiters receive a
// Result whose Err says so.
func (c *Coordinator) panicked(ctx context.Context, l *leadership, r any) {
	l.stopRenewal()
	cctx, cancel := c.cleanup(ctx)
	defer cancel()
	_, _ = c.finish(cctx, l.n, l.lease, l.fence, cache.Result{Err: fmt.Sprintf("redisflight: the leader's fetch of %q panicked: %v", l.key, r)})
}

// finish runs luaFinish: it stores and announces res unless a newer lease
// was taken, and drops the lease. It reports whether res was stored.
func (c *Coordinator) finish(ctx context.Context, n names, lease, fence string, res cache.Result) (bool, error) {
	stored, err := luaFinish.Run(ctx, c.cfg.Client, n.keys(), c.finishArgs(n, lease, fence, res)...).Int64()
	return stored == 1, err
}

// finishArgs are luaFinish's arguments for res.
func (c *Coordinator) finishArgs(n names, lease, fence string, res cache.Result) []any {
	return []any{lease, fence, encodeRecord(fence, res, c.cfg.MaxResultBytes), c.cfg.ResultTTL.Milliseconds(), n.done}
}

// renew extends the lease every RenewEvery until stop is closed or the
// lease turns out to be lost (another value holds it, or it is gone). A
// failed round trip is retried at the next tick: the lease may survive it.
// renew closes done when it returns.
func (c *Coordinator) renew(ctx context.Context, n names, lease string, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(c.cfg.RenewEvery)
	defer t.Stop()
	keys := []string{n.lease, n.fence}
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, c.cfg.RenewEvery)
		held, err := luaRenew.Run(rctx, c.cfg.Client, keys,
			lease, c.cfg.Lease.Milliseconds(), c.cfg.fenceTTL.Milliseconds()).Int64()
		cancel()
		if err == nil && held == 0 {
			// Lost: keep fetching for the caller, but luaFinish will not
			// publish over a newer lease.
			return
		}
	}
}
