package ttlpolicy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Jitter lengthens TTLs by a random amount, so that entries written
// together (by a bulk load, or all ending at midnight) do not all expire,
// and get refetched, at the same instant.
//
// Jitter only lengthens a TTL, never shortens it: a TTL is never cut below
// what its Policy or the caller asked for. A Jitter is safe for concurrent
// use. The zero Jitter, and a nil *Jitter, add nothing. A Jitter must not
// be copied after first use.
type Jitter struct {
	spread time.Duration // the largest offset added; >= 0
	mu     sync.Mutex    // protects r
	r      *rand.Rand    // nil: the math/rand/v2 top-level generator
}

// NewJitter returns a Jitter that adds a uniformly random offset in
// [0, spread] to each TTL. A spread of 0 adds nothing; a negative spread
// is an error.
//
// src is the source of randomness. Pass nil in production: the top-level
// generator of math/rand/v2 is randomly seeded and safe for concurrent use
// without a lock. A fixed source (rand.NewPCG or rand.NewChaCha8 with a
// constant seed) makes the offsets reproducible in tests; the Jitter takes
// ownership of it and serializes calls to it with a mutex, so the caller
// must not use src afterwards.
func NewJitter(spread time.Duration, src rand.Source) (*Jitter, error) {
	if spread < 0 {
		return nil, fmt.Errorf("ttlpolicy: jitter is %s; it must not be negative", spread)
	}
	j := &Jitter{spread: spread}
	if src != nil {
		j.r = rand.New(src)
	}
	return j, nil
}

// Spread returns the largest offset Apply adds.
func (j *Jitter) Spread() time.Duration {
	if j == nil {
		return 0
	}
	return j.spread
}

// Apply returns ttl plus a uniformly random offset in [0, Spread()].
//
// A ttl <= 0 is returned unchanged: to the cache engine 0 means "never
// goes stale", and jitter must not turn that into an expiry. A sum past
// the largest time.Duration (about 292 years) returns that largest
// Duration.
func (j *Jitter) Apply(ttl time.Duration) time.Duration {
	if j == nil || j.spread == 0 || ttl <= 0 {
		return ttl
	}
	extra := j.offset()
	if ttl > math.MaxInt64-extra {
		return math.MaxInt64
	}
	return ttl + extra
}

// offset draws a uniform offset in [0, j.spread]. j.spread > 0.
func (j *Jitter) offset() time.Duration {
	n := int64(j.spread)
	if j.r == nil {
		if n == math.MaxInt64 {
			return time.Duration(rand.Int64()) // [0, MaxInt64]: n+1 would overflow
		}
		return time.Duration(rand.Int64N(n + 1))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if n == math.MaxInt64 {
		return time.Duration(j.r.Int64())
	}
	return time.Duration(j.r.Int64N(n + 1))
}
