package cache

import (
	"context"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// profile is what the Stack remembers about one key for AdaptiveTTL and
// EarlyRefresh.
type profile struct {
	hits atomic.Int64 // reads that found the key
	cost atomic.Int64 // duration of the key's last fetch, in nanoseconds
}

// profiles is a bounded table of key profiles. otter's W-TinyLFU eviction
// keeps the profiles of frequently read keys, which are the ones that matter.
type profiles struct {
	c *otter.Cache[string, *profile]
}

func newProfiles(size int) (*profiles, error) {
	c, err := otter.New(&otter.Options[string, *profile]{MaximumSize: size})
	if err != nil {
		return nil, err
	}
	return &profiles{c: c}, nil
}

func (p *profiles) get(key string) *profile {
	if p == nil {
		return nil
	}
	if pr, ok := p.c.GetIfPresent(key); ok {
		return pr
	}
	pr, _ := p.c.SetIfAbsent(key, &profile{})
	return pr
}

func (p *profiles) peek(key string) *profile {
	if p == nil {
		return nil
	}
	pr, _ := p.c.GetIfPresent(key)
	return pr
}

func (p *profiles) forget(key string) {
	if p != nil {
		p.c.Invalidate(key)
	}
}

func (p *profiles) close() {
	if p != nil {
		p.c.StopAllGoroutines()
	}
}

// writeTTL is the fresh TTL written into layer l: the base TTL, lengthened
// for hot keys (AdaptiveTTL) and by jitter.
func (c *core) writeTTL(key string, l *layerState, co *callOptions, now int64) time.Duration {
	ttl := c.ttlFor(l, co, now)
	if ttl <= 0 {
		return 0
	}
	if a := c.opts.AdaptiveTTL; a != nil {
		if pr := c.profiles.peek(key); pr != nil {
			ttl = adapt(ttl, pr.hits.Load(), a)
		}
	}
	jitter := pick(c.opts.Layers[l.info.Name].TTLJitter, c.opts.TTLJitter)
	if co.hasJitter {
		jitter = co.jitter
	}
	if jitter > 0 {
		ttl += time.Duration(rand.Int64N(int64(jitter) + 1))
	}
	return ttl
}

// adapt applies AdaptiveTTL to a base TTL for a key read hits times.
func adapt(base time.Duration, hits int64, a *AdaptiveTTL) time.Duration {
	if hits < int64(a.HotAfter) {
		return base
	}
	step := a.Step
	if step == 0 {
		step = max(base/2, 1)
	}
	ceiling := a.Max
	if ceiling == 0 {
		ceiling = base + 4*step
	}
	if ceiling <= base {
		return base
	}
	steps := hits / int64(a.HotAfter)
	if steps > int64((ceiling-base)/step) { // also keeps steps*step from overflowing
		return ceiling
	}
	return base + time.Duration(steps)*step
}

// freshPolicies reports whether a fresh hit needs freshHit.
func (c *core) freshPolicies(co *callOptions) bool {
	return c.anyFreshPolicy || co.hasSliding || co.hasRefreshAhead
}

// freshHit is what a fresh hit on qk may trigger, for Get and GetMany alike:
// it counts the read for AdaptiveTTL, slides the entry's freshness
// (SlidingTTL), and reports whether the key is due for a background refresh
// (RefreshAhead, EarlyRefresh). freshUntil and negative describe the entry
// found; canFetch says whether the caller has a fetcher, without which no
// refresh is due. The caller starts the refresh, with the fetcher it has
// (one key's or a bulk one). It must run after the hit is backfilled: the
// slide rewrites the entry in every layer, and a later backfill would put
// the old deadlines back.
func (c *core) freshHit(ctx context.Context, qk string, freshUntil int64, negative bool, co *callOptions, now int64, canFetch bool) (refresh bool) {
	pr := c.profiles.get(qk)
	if pr != nil {
		pr.hits.Add(1)
	}
	sliding := c.opts.SlidingTTL
	if co.hasSliding {
		sliding = co.sliding
	}
	// A cached "not found" does not slide: repeated lookups of a missing
	// key must not keep it missing past its NegativeTTL (it would hide the
	// key's creation for as long as it is looked up).
	if sliding && freshUntil != 0 && !negative {
		c.slide(ctx, qk, co, now)
	}
	if !canFetch || freshUntil == 0 || negative {
		return false
	}
	left := freshUntil - now
	ahead := c.opts.RefreshAhead
	if co.hasRefreshAhead {
		ahead = co.refreshAhead
	}
	if ahead > 0 && left <= int64(ahead) {
		return true
	}
	return c.opts.EarlyRefresh > 0 && pr != nil && xfetch(left, pr.cost.Load(), c.opts.EarlyRefresh)
}

// xfetch is the probabilistic early-expiration test of Vattani, Chierichetti
// and Lowenstein ("Optimal Probabilistic Cache Stampede Prevention"): refresh
// when cost·beta·(−ln U) reaches the time left, U uniform in (0,1]. The
// nearer expiry and the slower the fetch, the likelier.
func xfetch(left, cost int64, beta float64) bool {
	if cost <= 0 {
		return false
	}
	u := 1 - rand.Float64() // (0, 1]
	return float64(cost)*beta*-math.Log(u) >= float64(left)
}

// slide restarts the freshness of qk in every layer that holds it, keeping
// the configured windows. It is a write of the key (fenced), so it never
// revives an entry deleted meanwhile.
func (c *core) slide(ctx context.Context, qk string, co *callOptions, now int64) {
	c.fences.write(qk, func() {
		for i := range c.layers {
			l := &c.layers[i]
			swr, sie := c.windows(l, co)
			e, ok, err := l.Get(ctx, qk)
			if err != nil || !ok || e.FreshUntil == 0 || e.Negative {
				continue
			}
			ttl := c.ttlFor(l, co, now)
			if ttl <= 0 {
				continue
			}
			e.FreshUntil = now + int64(ttl)
			e.StaleUntil, e.ErrorUntil = 0, 0
			if swr > 0 {
				e.StaleUntil = e.FreshUntil + int64(swr)
			}
			if sie > 0 {
				e.ErrorUntil = e.FreshUntil + int64(sie)
			}
			if err := l.Set(ctx, qk, e); err != nil {
				c.metrics.writeFailures.inc()
				_ = c.layerErr(l, "sliding-ttl", qk, err)
			}
		}
	})
}

// recordCost remembers how long the fetch of qk took, for EarlyRefresh.
func (c *core) recordCost(qk string, took time.Duration) {
	if c.opts.EarlyRefresh > 0 && qk != "" {
		if pr := c.profiles.get(qk); pr != nil {
			pr.cost.Store(int64(took))
		}
	}
}
