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
) (res cache.Result, err error) {
	fence := fenceOf(lease)
	// Redis work after the fetch must happen even when ctx has ended; it
	// keeps ctx's values and is bounded by the lease, past which it no
	// longer matters.
	cleanup := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Lease)
	}

	stop, renewed := make(chan struct{}), make(chan struct{})
	go c.renew(context.WithoutCancel(ctx), n, lease, stop, renewed)
	stopRenewal := sync.OnceFunc(func() {
		close(stop)
		<-renewed
	})
	defer stopRenewal()

	defer func() {
		r := recover()
		if r == nil {
			return
		}
		stopRenewal()
		cctx, cancel := cleanup()
		_, _ = c.finish(cctx, n, lease, fence, cache.Result{Err: fmt.Sprintf("redisflight: the leader's fetch of %q panicked: %v", key, r)})
		cancel()
		panic(r)
	}()

	res = fetch(ctx)
	stopRenewal()

	cctx, cancel := cleanup()
	defer cancel()
	if ctx.Err() != nil && res.Err != "" {
		// The caller left and the fetch failed, most likely because of
		// that: the failure is not the key's, so let a waiter fetch.
		_ = luaRelease.Run(cctx, c.cfg.Client, n.keys(), lease, fence, n.done).Err()
		return cache.Result{}, fmt.Errorf("redisflight: fetch of %q abandoned (%s): %w", key, res.Err, context.Cause(ctx))
	}
	_, _ = c.finish(cctx, n, lease, fence, res)
	return res, nil
}

// finish runs luaFinish: it stores and announces res unless a newer lease
// was taken, and drops the lease. It reports whether res was stored.
func (c *Coordinator) finish(ctx context.Context, n names, lease, fence string, res cache.Result) (bool, error) {
	rec := encodeRecord(fence, res, c.cfg.MaxResultBytes)
	stored, err := luaFinish.Run(ctx, c.cfg.Client, n.keys(),
		lease, fence, rec, c.cfg.ResultTTL.Milliseconds(), n.done).Int64()
	return stored == 1, err
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
