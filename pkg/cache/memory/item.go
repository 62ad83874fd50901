package memory

import (
	"math"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/maypok86/otter/v2"
)

// item is what the store keeps for a cache.Entry: everything but the
// Payload, which a Values layer does not keep (see Options.MaxBytes). The
// store holds it by pointer and never changes it: a write stores a new item.
// A pointer is one machine word, which the store reads with one atomic load;
// an inline value of this size made Gets measurably slower, and the store
// boxes such a value behind a pointer on its first update anyway.
type item struct {
	e      cache.Entry // Payload always nil; never modified after creation
	weight uint32      // the charge against MaxBytes; 0 when not bounded by bytes
}

func newItem(e *cache.Entry, weight uint32) *item {
	it := &item{e: *e, weight: weight}
	it.e.Payload = nil
	return it
}

// entry returns a copy of the cache.Entry, without its Payload.
func (it *item) entry() cache.Entry { return it.e }

// expiresAt is cache.Entry.ExpiresAt of the stored entry.
func (it *item) expiresAt() int64 { return it.e.ExpiresAt() }

// expiresAfter tells the store how long an entry lives from now: until its
// own deadline. The store computes the deadline as now + the returned
// duration with the now it passes as SnapshotAtNano, so the store's
// deadline is exactly the entry's ExpiresAt.
//
// A non-positive duration would make the store keep its previous deadline
// (never, for a new entry), so an entry that expired between Set's own check
// and this call gets 1ns instead: it is gone after that nanosecond.
func expiresAfter(e otter.Entry[string, *item]) time.Duration {
	at := e.Value.expiresAt()
	if at == 0 {
		return time.Duration(math.MaxInt64)
	}
	return max(time.Duration(at-e.SnapshotAtNano), 1)
}

// charge is what an entry counts against MaxBytes, and whether it fits at
// all. See Options.MaxBytes.
func charge(c *config, key string, e *cache.Entry) (w int64, fits bool) {
	w = int64(len(key)) + int64(len(e.Payload)) + EntryOverhead
	for _, t := range e.Tags {
		w += int64(len(t)) + tagOverhead
	}
	w = max(w, c.minCharge)
	return w, w <= c.maxBytes && w <= math.MaxUint32
}
