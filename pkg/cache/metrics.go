package cache

import (
	"sync/atomic"
	"unsafe"
)

// counter is an atomic counter on its own cache line, so counters bumped by
// different goroutines do not slow each other down by false sharing.
type counter struct {
	n atomic.Uint64
	_ [56]byte
}

func (c *counter) inc()         { c.n.Add(1) }
func (c *counter) add(n uint64) { c.n.Add(n) }
func (c *counter) load() uint64 { return c.n.Load() }

type metrics struct {
	misses, staleHits, negativeHits         counter
	fetches, fetchErrors, dedupes           counter
	refreshes, refreshErrors                counter
	sets, deletes, backfills, writeFailures counter
	fencedWrites, corrupt                   counter
	invalidations, expirations, tagErrors   counter
	degradations, breakerRejections         counter
	rateLimited                             counter
	busPublished, busReceived, busErrors    counter
	busReconnects, remoteResults            counter
	coordinatorErrors                       counter
}

type layerMetrics struct {
	hits           stripedCounter // bumped on every hit: striped so cores do not contend
	misses, errors counter
}

// counterStripes is the number of cache lines a stripedCounter spreads
// over; a power of two.
const counterStripes = 16

// stripedCounter is a counter for the hottest path (L1 hits): each
// goroutine adds to one of several cache lines, chosen from the address of
// its stack, and a read sums them. A single atomic counter shared by all
// cores costs more than the rest of an L1 hit under parallel load.
type stripedCounter struct {
	stripes [counterStripes]counter
}

// inc adds one. The stripe is picked from the address of a local variable:
// goroutines run on different stacks, so concurrent callers mostly land on
// different stripes, and reading an address costs nothing. (It is only a
// hint; any stripe is correct.)
func (s *stripedCounter) inc() {
	var anchor byte
	i := (uintptr(unsafe.Pointer(&anchor)) >> 12) & (counterStripes - 1)
	s.stripes[i].inc()
}

func (s *stripedCounter) load() uint64 {
	var n uint64
	for i := range s.stripes {
		n += s.stripes[i].load()
	}
	return n
}

// Stats is a snapshot of a Stack's counters since New. Counters only grow.
type Stats struct {
	Hits              uint64 // Get calls answered from a layer (fresh or stale)
	Misses            uint64 // Get calls no layer could answer
	StaleHits         uint64 // hits served from a stale window
	NegativeHits      uint64 // hits on a cached "not found"
	Fetches           uint64 // fetcher calls (after deduplication)
	FetchErrors       uint64 // fetcher calls that failed (ErrNotFound excluded)
	Dedupes           uint64 // callers that joined another caller's fetch
	Refreshes         uint64 // background refreshes started
	RefreshErrors     uint64 // background refreshes that failed
	Sets              uint64 // entries written (Set, SetMany items, fetched values)
	Deletes           uint64 // keys deleted
	Backfills         uint64 // entries copied into a faster layer
	WriteFailures     uint64 // layer writes that failed
	FencedWrites      uint64 // fetched values not stored because a newer write or invalidation won
	Corrupt           uint64 // undecodable entries met (treated as misses)
	LayerErrors       uint64 // failed layer operations of any kind
	Invalidations     uint64 // tag, prefix and pattern invalidation calls
	Expirations       uint64 // keys marked stale by Expire*
	TagErrors         uint64 // failed tag index updates
	Degradations      uint64 // times a layer started being skipped (DegradeFor)
	BreakerOpen       uint64 // fetches refused by an open circuit breaker
	RateLimited       uint64 // fetches refused by the rate limiter
	BusPublished      uint64 // invalidation messages sent
	BusReceived       uint64 // invalidation messages applied from other instances
	BusErrors         uint64 // failed publishes and subscriptions
	BusReconnects     uint64 // bus reconnects (each drops the local layers)
	RemoteResults     uint64 // fetch results received from another instance (Coordinator)
	CoordinatorErrors uint64 // coordinated fetches that fell back to a local fetch
	Layers            []LayerStats
}

// LayerStats counts one layer's reads.
type LayerStats struct {
	Name   string
	Hits   uint64
	Misses uint64
	Errors uint64
}

// HitRatio is Hits / (Hits + Misses), or 0 before the first Get.
func (s Stats) HitRatio() float64 {
	if total := s.Hits + s.Misses; total > 0 {
		return float64(s.Hits) / float64(total)
	}
	return 0
}
