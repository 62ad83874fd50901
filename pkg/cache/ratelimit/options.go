package ratelimit

import (
	"fmt"
	"math"

	"golang.org/x/time/rate"
)

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultMaxQueue is how many callers may wait in one bucket.
	DefaultMaxQueue = 1_000
	// DefaultMaxBuckets bounds the number of buckets.
	DefaultMaxBuckets = 10_000
)

// maxFiniteRate is the largest finite Rate: above it, ceil(Rate) as a
// default Burst stops being exact. Use math.Inf(1) for "no rate limit".
const maxFiniteRate = 1 << 53

// Overflow says what Acquire does with a call that would exceed MaxQueue or
// MaxBuckets.
type Overflow uint8

const (
	// Reject refuses the call with a *LimitedError. It is the default:
	// letting overflow through would remove the limit exactly when the
	// source is under the most pressure.
	Reject Overflow = iota
	// Bypass lets the call through at once, without a token or a
	// concurrency slot, and counts it in Stats.Bypassed.
	Bypass
)

// String returns "reject" or "bypass".
func (o Overflow) String() string {
	switch o {
	case Reject:
		return "reject"
	case Bypass:
		return "bypass"
	default:
		return fmt.Sprintf("Overflow(%d)", uint8(o))
	}
}

// Options configures a Limiter. Rate has no default, so the zero value is
// not valid. Every bucket gets the same limits.
type Options struct {
	// Rate is how many calls per second a bucket admits on average (a
	// token bucket, golang.org/x/time/rate). It must be greater than 0;
	// math.Inf(1) means no rate limit, so that only MaxConcurrent and
	// MaxQueue apply. Finite values must not exceed 2^53.
	//
	// default: none (required)
	Rate float64

	// Burst is how many calls a bucket admits at once after being idle:
	// the size of the token bucket. It must not be negative. It is ignored
	// when Rate is infinite.
	//
	// default: ceil(Rate), at least 1 (one second's worth of calls)
	Burst int

	// MaxConcurrent is how many calls admitted from one bucket may be in
	// flight (admitted and not yet released) at once. A caller takes a
	// slot first and then waits for a token while holding it, so a call
	// starts as soon as it has its token and the calls that reach the
	// source never come faster than Rate. It must not be negative; 0
	// means no bound.
	//
	// default: 0 (no bound)
	MaxConcurrent int

	// MaxQueue is how many callers may wait in one bucket, for a token or
	// a slot. A caller that finds MaxQueue others waiting overflows (see
	// Overflow). It must not be negative.
	//
	// default: 1_000
	MaxQueue int

	// Overflow says what happens to a call that finds its bucket's queue
	// full, or that needs a new bucket when MaxBuckets buckets are all
	// busy.
	//
	// default: Reject
	Overflow Overflow

	// MaxBuckets bounds how many buckets exist at once. A bucket with no
	// caller waiting or in flight is idle; when a new bucket is needed and
	// there are MaxBuckets, the least recently used idle one is dropped
	// (if none is idle, the call overflows). A dropped bucket forgets how
	// many tokens it had used: a later call for it starts with a full
	// Burst, which is the same as if it had stayed idle for Burst/Rate
	// seconds. It must not be negative.
	//
	// default: 10_000
	MaxBuckets int
}

// config is Options after defaults and validation.
type config struct {
	limit         rate.Limit
	burst         int
	maxConcurrent int
	maxQueue      int
	overflow      Overflow
	maxBuckets    int
}

// resolve applies defaults and validates o. It never adjusts a value the
// caller set; an invalid one is an error naming the field.
func (o *Options) resolve() (config, error) {
	c := config{
		burst:         o.Burst,
		maxConcurrent: o.MaxConcurrent,
		maxQueue:      o.MaxQueue,
		overflow:      o.Overflow,
		maxBuckets:    o.MaxBuckets,
	}
	switch r := o.Rate; {
	case math.IsInf(r, 1):
		c.limit = rate.Inf
	case math.IsNaN(r) || r <= 0 || r > maxFiniteRate:
		return config{}, fmt.Errorf("ratelimit: Options.Rate is %v; it must be greater than 0 and at most 2^53, or +Inf", r)
	default:
		c.limit = rate.Limit(r)
	}
	if c.burst < 0 {
		return config{}, fmt.Errorf("ratelimit: Options.Burst is %d; it must not be negative", c.burst)
	}
	if c.burst == 0 {
		c.burst = 1
		if c.limit != rate.Inf && o.Rate > 1 {
			c.burst = int(math.Ceil(o.Rate))
		}
	}
	if c.maxConcurrent < 0 {
		return config{}, fmt.Errorf("ratelimit: Options.MaxConcurrent is %d; it must not be negative", c.maxConcurrent)
	}
	if c.maxQueue < 0 {
		return config{}, fmt.Errorf("ratelimit: Options.MaxQueue is %d; it must not be negative", c.maxQueue)
	}
	if c.maxQueue == 0 {
		c.maxQueue = DefaultMaxQueue
	}
	if c.overflow > Bypass {
		return config{}, fmt.Errorf("ratelimit: Options.Overflow is %d; it must be Reject or Bypass", c.overflow)
	}
	if c.maxBuckets < 0 {
		return config{}, fmt.Errorf("ratelimit: Options.MaxBuckets is %d; it must not be negative", c.maxBuckets)
	}
	if c.maxBuckets == 0 {
		c.maxBuckets = DefaultMaxBuckets
	}
	return c, nil
}
