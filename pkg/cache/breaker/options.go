package breaker

import (
	"fmt"
	"math"
	"time"
)

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultConsecutiveFailures is the trip condition used when neither
	// ConsecutiveFailures nor FailureRatio is set.
	DefaultConsecutiveFailures = 5
	// DefaultMinRequests is the least number of calls, ended in the
	// window, that the failure ratio is judged on.
	DefaultMinRequests = 20
	// DefaultWindow is how far back the failure ratio looks.
	DefaultWindow = 10 * time.Second
	// DefaultOpenFor is how long a tripped breaker refuses calls.
	DefaultOpenFor = 30 * time.Second
	// DefaultHalfOpenProbes is how many calls a half-open breaker lets
	// through.
	DefaultHalfOpenProbes = 1
	// DefaultMaxBreakers bounds the number of keys with a breaker.
	DefaultMaxBreakers = 10_000
)

// windowBuckets is how many buckets the failure-ratio window is cut into.
// The window moves one bucket (Window/10) at a time, so the ratio is over
// the last 90 to 100 % of Window.
const windowBuckets = 10

// Options configures a Set. The zero value is valid: every key gets a
// breaker that opens for 30 seconds after 5 failures in a row and then lets
// one probe through; at most 10,000 keys have a breaker; time is the
// system's.
type Options struct {
	// ConsecutiveFailures trips a closed breaker when this many calls in a
	// row have failed; a success starts the count again. 0 turns this
	// condition off, which is allowed only when FailureRatio is set (a
	// breaker needs at least one way to trip); so with both fields zero,
	// the default applies. It must not be negative.
	//
	// default: 5 when FailureRatio is 0; 0 (off) when FailureRatio is set
	ConsecutiveFailures int

	// FailureRatio trips a closed breaker when, of the calls that ended in
	// the last Window, at least MinRequests did and at least this fraction
	// of them failed. It must be in [0, 1]; 0 turns the condition off.
	// Counts are kept in 10 buckets per breaker, allocated with the
	// breaker, so recording an outcome allocates nothing.
	//
	// default: 0 (off)
	FailureRatio float64

	// MinRequests is the least number of calls that must have ended in
	// the window before FailureRatio can trip the breaker. It must not be
	// negative, and may only be set together with FailureRatio.
	//
	// default: 20
	MinRequests int

	// Window is how far back FailureRatio looks. It moves in steps of a
	// tenth of itself, so it must be at least 10ns; and it may only be set
	// together with FailureRatio.
	//
	// default: 10s
	Window time.Duration

	// OpenFor is how long a tripped breaker refuses calls before it lets
	// probes through. It must not be negative.
	//
	// default: 30s
	OpenFor time.Duration

	// HalfOpenProbes is how many calls a breaker lets through once OpenFor
	// has passed. When that many have succeeded, the breaker closes; the
	// first that fails opens it again for OpenFor. Calls beyond it are
	// refused with an *OpenError until the probes have ended. It must not
	// be negative.
	//
	// default: 1
	HalfOpenProbes int

	// MaxBreakers bounds how many keys have a breaker. When a new key
	// needs one and the Set is full, the least recently used breaker with
	// no call in flight is dropped (or, when the few least recently used
	// all have calls in flight, the least recently used one). Dropping a
	// breaker forgets its state: an open breaker dropped this way lets the
	// next call for its key through. Above 256 breakers the bound is split
	// evenly between shards, so what is dropped is the least recently used
	// breaker of the new key's shard. It must not be negative.
	//
	// default: 10_000
	MaxBreakers int

	// Clock tells the time. It exists to make tests deterministic. It is
	// called with a shard lock held and must not call the Set.
	//
	// default: the system clock (monotonic)
	Clock Clock

	// OnStateChange, when set, is called after each change of a breaker's
	// state, for events and metrics. A breaker that is not closed and is
	// dropped (MaxBreakers, Forget, ForgetAll) is reported as changing to
	// Closed, the state its key has from then on, so that gauges built
	// from these calls stay right. It is called on the goroutine that
	// caused the change (in Allow or done), after the Set's lock is
	// released; calls for one key may run concurrently and, when changes
	// come close together, out of order. It must be safe for concurrent
	// use. An open breaker whose OpenFor has passed turns half-open on the
	// next Allow, and that is when the change is reported.
	//
	// default: nil (no calls)
	OnStateChange func(key string, from, to State)
}

// Clock reads the current time in nanoseconds. Only differences between
// readings matter; readings must not go backwards. It must be safe for
// concurrent use. *otter.CoarseClock and the cache's Clock satisfy it.
type Clock interface {
	NowNano() int64
}

// config is Options after defaults and validation.
type config struct {
	consecutive   int
	ratio         float64 // 0: off
	minRequests   int
	bucketWidth   int64 // ns; Window / windowBuckets
	openFor       int64 // ns
	probes        int
	maxBreakers   int
	clock         Clock
	onStateChange func(key string, from, to State)
}

// resolve applies defaults and validates o. It never adjusts a value the
// caller set; an invalid one is an error naming the field.
func (o *Options) resolve() (config, error) {
	c := config{
		consecutive:   o.ConsecutiveFailures,
		ratio:         o.FailureRatio,
		minRequests:   o.MinRequests,
		openFor:       int64(o.OpenFor),
		probes:        o.HalfOpenProbes,
		maxBreakers:   o.MaxBreakers,
		clock:         o.Clock,
		onStateChange: o.OnStateChange,
	}
	if c.consecutive < 0 {
		return config{}, fmt.Errorf("breaker: Options.ConsecutiveFailures is %d; it must not be negative", c.consecutive)
	}
	if math.IsNaN(c.ratio) || c.ratio < 0 || c.ratio > 1 {
		return config{}, fmt.Errorf("breaker: Options.FailureRatio is %v; it must be in [0, 1]", c.ratio)
	}
	if c.ratio == 0 {
		if o.MinRequests != 0 || o.Window != 0 {
			return config{}, fmt.Errorf("breaker: Options.MinRequests and Options.Window only apply with Options.FailureRatio, which is 0")
		}
		if c.consecutive == 0 {
			c.consecutive = DefaultConsecutiveFailures
		}
	}
	if c.minRequests < 0 {
		return config{}, fmt.Errorf("breaker: Options.MinRequests is %d; it must not be negative", c.minRequests)
	}
	if c.minRequests == 0 {
		c.minRequests = DefaultMinRequests
	}
	window := o.Window
	if window < 0 || (window > 0 && window < windowBuckets) {
		return config{}, fmt.Errorf("breaker: Options.Window is %s; it must be at least %dns", window, windowBuckets)
	}
	if window == 0 {
		window = DefaultWindow
	}
	c.bucketWidth = int64(window) / windowBuckets
	if c.openFor < 0 {
		return config{}, fmt.Errorf("breaker: Options.OpenFor is %s; it must not be negative", o.OpenFor)
	}
	if c.openFor == 0 {
		c.openFor = int64(DefaultOpenFor)
	}
	if c.probes < 0 {
		return config{}, fmt.Errorf("breaker: Options.HalfOpenProbes is %d; it must not be negative", c.probes)
	}
	if c.probes == 0 {
		c.probes = DefaultHalfOpenProbes
	}
	if c.maxBreakers < 0 {
		return config{}, fmt.Errorf("breaker: Options.MaxBreakers is %d; it must not be negative", c.maxBreakers)
	}
	if c.maxBreakers == 0 {
		c.maxBreakers = DefaultMaxBreakers
	}
	if c.clock == nil {
		c.clock = newSystemClock()
	}
	return c, nil
}

// systemClock reads the wall clock once, at creation, and the monotonic
// clock after that, so its readings never go backwards.
type systemClock struct {
	base     time.Time
	baseNano int64
}

func newSystemClock() *systemClock {
	now := time.Now()
	return &systemClock{base: now, baseNano: now.UnixNano()}
}

func (c *systemClock) NowNano() int64 {
	return c.baseNano + int64(time.Since(c.base))
}
