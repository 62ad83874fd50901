package breaker

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/layercache/layercache/internal/xlist"
)

const (
	// maxShards bounds the number of shards; perShard is the least
	// number of breakers a shard is given when there are several.
	maxShards = 64
	perShard  = 128
	// evictScan is how many of a full shard's least recently used
	// breakers are searched for one with no call in flight.
	evictScan = 8
)

// Set is a bounded set of circuit breakers, one per key. Make one with New;
// the zero Set is not usable. A Set is safe for concurrent use and must not
// be copied.
type Set struct {
	cfg    config
	seed   maphash.Seed
	shards []shard

	trips, rejections, evictions atomic.Uint64
}

// shard holds the breakers of the keys that hash to it.
type shard struct {
	set *Set
	max int // breakers the shard may hold

	mu  sync.Mutex                    // protects m, the LRU list and every breaker in m
	m   map[string]*breaker           // lazily made
	lru xlist.List[breaker, *breaker] // most recently used first

	_ [64]byte // keeps neighbouring shards' mutexes off one cache line
}

// New returns a Set configured by opts. It returns an error naming the
// field when a value is invalid; it does not modify opts.
func New(opts Options) (*Set, error) {
	cfg, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	n := 1
	if cfg.maxBreakers > 2*perShard {
		n = min(maxShards, cfg.maxBreakers/perShard)
	}
	s := &Set{cfg: cfg, seed: maphash.MakeSeed(), shards: make([]shard, n)}
	for i := range s.shards {
		s.shards[i].set = s
		// Split the bound so that the shards' bounds add up to it exactly.
		s.shards[i].max = cfg.maxBreakers / n
		if i < cfg.maxBreakers%n {
			s.shards[i].max++
		}
	}
	return s, nil
}

// Allow asks key's breaker whether a call may go through. If it may, the
// caller makes the call and then calls done exactly once with whether it
// succeeded; done is safe to call from any goroutine. If it may not, err is
// an *OpenError (errors.Is(err, ErrOpen)) and done is nil.
//
// A closed breaker lets every call through. An open one refuses calls until
// OpenFor has passed; the first Allow after that turns it half-open, and a
// half-open breaker lets HalfOpenProbes calls through and refuses the rest
// until their outcomes are in. Outcomes reported after the breaker changed
// state (a slow call that started before it tripped) are not counted.
//
// The first Allow for a key makes its breaker, which may drop another to
// stay within MaxBreakers. Allow on an existing closed breaker allocates
// nothing.
func (s *Set) Allow(key string) (done func(success bool), err error) {
	done, cs, err := s.allow(key)
	if cs.n > 0 {
		s.notify(cs.c[:cs.n])
	}
	return done, err
}

func (s *Set) allow(key string) (func(bool), changes, error) {
	var cs changes
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[key]
	if b == nil {
		b = sh.add(key, &cs)
	} else {
		sh.touch(b)
	}
	if b.state == Closed {
		b.inflight++
		return b.gen.done, cs, nil
	}
	now := s.cfg.clock.NowNano()
	if b.state == Open {
		if now < b.openUntil {
			s.rejections.Add(1)
			return nil, cs, &OpenError{Key: key, State: Open, RetryAfter: time.Duration(b.openUntil - now)}
		}
		cs.add(b.setState(HalfOpen, now))
	}
	if b.probes >= s.cfg.probes {
		s.rejections.Add(1)
		return nil, cs, &OpenError{Key: key, State: HalfOpen}
	}
	b.probes++
	b.inflight++
	return b.gen.done, cs, nil
}

// Check reports whether Allow would let a call for key through now, without
// taking a probe or making a breaker: nil, or the *OpenError Allow would
// return. Use it to skip work that only makes sense if the call can go
// through (waiting for a rate limiter, say) before calling Allow, which may
// still refuse: the state can change in between. A refusal counts in
// Stats.Rejections.
func (s *Set) Check(key string) error {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[key]
	if b == nil || b.state == Closed {
		return nil
	}
	now := s.cfg.clock.NowNano()
	switch b.effective(now) {
	case Open:
		s.rejections.Add(1)
		return &OpenError{Key: key, State: Open, RetryAfter: time.Duration(b.openUntil - now)}
	case HalfOpen:
		if b.state == HalfOpen && b.probes >= s.cfg.probes {
			s.rejections.Add(1)
			return &OpenError{Key: key, State: HalfOpen}
		}
	}
	return nil
}

// State returns the state of key's breaker: Closed when it has none. An
// open breaker whose OpenFor has passed is reported HalfOpen, although
// OnStateChange hears of it only at the next Allow.
func (s *Set) State(key string) State {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[key]
	if b == nil {
		return Closed
	}
	return b.effective(s.cfg.clock.NowNano())
}

// Forget drops key's breaker, so that its next call starts with a fresh
// closed one; the cache calls it when a key is deleted. Outcomes of calls
// still in flight are not counted anywhere.
func (s *Set) Forget(key string) {
	var c change
	sh := s.shard(key)
	sh.mu.Lock()
	if b := sh.m[key]; b != nil {
		c = sh.remove(b)
	}
	sh.mu.Unlock()
	if c.from != c.to {
		s.notify([]change{c})
	}
}

// ForgetAll drops every breaker, as Forget does; the cache calls it when it
// is cleared.
func (s *Set) ForgetAll() {
	var cs []change
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for b := sh.lru.Front(); b != nil; {
			next := sh.lru.Next(b)
			if c := sh.remove(b); c.from != c.to {
				cs = append(cs, c)
			}
			b = next
		}
		sh.mu.Unlock()
	}
	s.notify(cs)
}

// Stats returns the Set's counters and how many breakers are in each state.
// It visits every breaker, locking one shard at a time, so the per-state
// counts are not one atomic snapshot under concurrent use.
func (s *Set) Stats() Stats {
	st := Stats{Trips: s.trips.Load(), Rejections: s.rejections.Load(), Evictions: s.evictions.Load()}
	for i := range s.shards {
		sh := &s.shards[i]
		now := s.cfg.clock.NowNano() // outside the lock: a panicking Clock must not leave it held
		sh.mu.Lock()
		for b := sh.lru.Front(); b != nil; b = sh.lru.Next(b) {
			switch b.effective(now) {
			case Closed:
				st.Closed++
			case Open:
				st.Open++
			case HalfOpen:
				st.HalfOpen++
			}
		}
		sh.mu.Unlock()
	}
	return st
}

// record counts the outcome of a call let through in generation g and
// returns the changes of state it caused.
func (s *Set) record(g *generation, success bool) changes {
	var cs changes
	b := g.b
	b.sh.mu.Lock()
	defer b.sh.mu.Unlock()
	if b.inflight > 0 {
		b.inflight--
	}
	if b.gen != g {
		return cs // the call began before the breaker changed state
	}
	switch b.state {
	case Closed:
		if success {
			b.fails = 0
		} else {
			b.fails++
		}
		if b.buckets == nil && success {
			return cs
		}
		now := s.cfg.clock.NowNano()
		trip := s.cfg.consecutive > 0 && b.fails >= s.cfg.consecutive
		if b.buckets != nil && b.recordOutcome(&s.cfg, now, !success) {
			trip = true
		}
		if trip {
			cs.add(b.setState(Open, now))
		}
	case HalfOpen:
		switch {
		case !success:
			cs.add(b.setState(Open, s.cfg.clock.NowNano()))
		case b.successes+1 >= s.cfg.probes:
			cs.add(b.setState(Closed, 0))
		default:
			b.successes++
		}
	}
	return cs
}

// notify reports changes to Options.OnStateChange. No lock may be held.
func (s *Set) notify(cs []change) {
	if f := s.cfg.onStateChange; f != nil {
		for _, c := range cs {
			f(c.key, c.from, c.to)
		}
	}
}

func (s *Set) shard(key string) *shard {
	if len(s.shards) == 1 {
		return &s.shards[0]
	}
	return &s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))]
}

// add makes a closed breaker for key and puts it at the front of the list,
// first dropping one if the shard is full. The caller holds sh.mu.
func (sh *shard) add(key string, cs *changes) *breaker {
	if sh.m == nil {
		sh.m = make(map[string]*breaker)
	}
	if len(sh.m) >= sh.max {
		victim := sh.lru.Back()
		for b, i := sh.lru.Back(), 0; b != nil && i < evictScan; b, i = sh.lru.Prev(b), i+1 {
			if b.inflight == 0 {
				victim = b
				break
			}
		}
		if c := sh.remove(victim); c.from != c.to {
			cs.add(c)
		}
		sh.set.evictions.Add(1)
	}
	b := &breaker{key: key, sh: sh}
	b.gen = newGeneration(b)
	if sh.set.cfg.ratio > 0 {
		b.buckets = make([]bucket, windowBuckets)
	}
	sh.m[key] = b
	sh.lru.PushFront(b)
	return b
}

// remove drops b and returns the change its key sees: from its state to
// Closed. The caller holds sh.mu.
func (sh *shard) remove(b *breaker) change {
	delete(sh.m, b.key)
	sh.lru.Remove(b)
	// With no generation, the done functions already handed out for b
	// count nothing.
	b.gen = nil
	return change{key: b.key, from: b.state, to: Closed}
}

// touch marks b as the most recently used. The caller holds sh.mu.
func (sh *shard) touch(b *breaker) {
	sh.lru.MoveToFront(b)
}
