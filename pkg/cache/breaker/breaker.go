package breaker

import "github.com/layercache/layercache/internal/xlist"

// breaker is the state machine of one key. Every field is guarded by the
// mutex of its shard.
type breaker struct {
	key                  string
	sh                   *shard
	xlist.Links[breaker] // the shard's LRU list: the previous one was used more recently

	state     State
	gen       *generation // replaced on every change of state
	openUntil int64       // Open: when probes may start (Clock nanoseconds)
	inflight  int         // calls let through whose done has not been called, of any generation
	fails     int         // Closed: failures in a row
	probes    int         // HalfOpen: probes let through
	successes int         // HalfOpen: probes that succeeded
	buckets   []bucket    // Closed: outcomes per slice of the window; nil when FailureRatio is off
}

// bucket counts the outcomes of one slice of the window, Window/10 long.
type bucket struct {
	index    int64 // NowNano / bucketWidth of the slice counted; older ones are stale
	ended    uint32
	failures uint32
}

// generation is one stretch of a breaker in one state. The done function
// Allow returns belongs to the generation it was issued in, so an outcome
// reported after the breaker changed state is not counted in the new state
// (a probe of an earlier half-open stretch cannot use up a probe of this
// one). Making done a method value bound once per generation is what lets
// Allow on a closed breaker return it without allocating.
type generation struct {
	b    *breaker
	done func(success bool) // g.finish
}

func newGeneration(b *breaker) *generation {
	g := &generation{b: b}
	g.done = g.finish
	return g
}

// finish is the done function of every call let through in generation g.
func (g *generation) finish(success bool) {
	s := g.b.sh.set
	if cs := s.record(g, success); cs.n > 0 {
		s.notify(cs.c[:cs.n])
	}
}

// change is one change of state to report to Options.OnStateChange.
type change struct {
	key      string
	from, to State
}

// changes collects the few changes one call can make while a lock is held,
// without allocating.
type changes struct {
	n int
	c [2]change
}

func (cs *changes) add(c change) {
	cs.c[cs.n] = c
	cs.n++
}

// setState moves b to state to at time now and starts a new generation.
// The caller holds b's shard lock.
func (b *breaker) setState(to State, now int64) change {
	c := change{key: b.key, from: b.state, to: to}
	b.state = to
	b.gen = newGeneration(b)
	b.fails, b.probes, b.successes = 0, 0, 0
	clear(b.buckets)
	if to == Open {
		b.openUntil = now + b.sh.set.cfg.openFor
		b.sh.set.trips.Add(1)
	}
	return c
}

// effective returns b's state at time now: an open breaker whose OpenFor
// has passed is half-open, even before an Allow has made it so.
func (b *breaker) effective(now int64) State {
	if b.state == Open && now >= b.openUntil {
		return HalfOpen
	}
	return b.state
}

// recordOutcome counts one outcome of a closed breaker in the window and
// reports whether the failure ratio now trips it. The caller holds the
// shard lock and has checked that b.buckets is not nil.
func (b *breaker) recordOutcome(cfg *config, now int64, failed bool) bool {
	idx := floorDiv(now, cfg.bucketWidth)
	n := int64(len(b.buckets))
	bk := &b.buckets[((idx%n)+n)%n]
	if bk.index != idx {
		*bk = bucket{index: idx}
	}
	bk.ended++
	if !failed {
		return false
	}
	bk.failures++
	var ended, failures uint64
	for i := range b.buckets {
		if age := idx - b.buckets[i].index; age >= 0 && age < n {
			ended += uint64(b.buckets[i].ended)
			failures += uint64(b.buckets[i].failures)
		}
	}
	return ended >= uint64(cfg.minRequests) && float64(failures) >= cfg.ratio*float64(ended)
}

// floorDiv is a / b rounded down, so that readings before the epoch of a
// test clock still fall into the right bucket.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
