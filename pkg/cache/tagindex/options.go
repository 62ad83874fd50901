package tagindex

import (
	"fmt"
	"time"
)

// DefaultMaxKeys is the bound on tracked keys used when Options.MaxKeys
// is 0.
const DefaultMaxKeys = 1_000_000

// Options configures an Index. The zero value is valid: at most 1,000,000
// keys, on the system clock.
type Options struct {
	// MaxKeys is the most keys the Index tracks. When a Track would exceed
	// it, the associations that expire soonest (those that never expire
	// last; among equal deadlines, the least recently tracked first) are
	// dropped until the Index is back at the bound. Expired associations
	// are dropped first and cost nothing; every live association dropped
	// is counted by Index.Dropped, because an invalidation by one of its
	// tags will now miss that key (which then lives until its own expiry).
	// Dropping the soonest-expiring association keeps that window as short
	// as possible. It must not be negative; 0 means the default.
	//
	// Each tracked key costs about 110 bytes plus 60 bytes per tag (on
	// amd64), besides the bytes of the key and of tags no other key
	// shares: about 250 MB at the default bound with two tags per key.
	//
	// default: 1_000_000 (DefaultMaxKeys)
	MaxKeys int

	// Clock is the time source that decides when associations have
	// expired; it must read the same clock as the expiresAt values passed
	// to Track. It exists to make expiry testable without sleeping.
	//
	// default: the system clock (time.Now().UnixNano())
	Clock Clock
}

// Clock is a source of time for an Index.
type Clock interface {
	// NowNano returns the current time as Unix nanoseconds, the unit of
	// Track's expiresAt. It must be safe for concurrent use.
	NowNano() int64
}

// config is Options after defaults and validation.
type config struct {
	maxKeys int
	clock   Clock
}

// resolve applies defaults and validates o. It never adjusts a value the
// caller set; an invalid one is an error naming the field.
func (o *Options) resolve() (config, error) {
	c := config{maxKeys: o.MaxKeys, clock: o.Clock}
	if c.maxKeys < 0 {
		return config{}, fmt.Errorf("tag index: MaxKeys must not be negative, got %d", c.maxKeys)
	}
	if c.maxKeys == 0 {
		c.maxKeys = DefaultMaxKeys
	}
	if c.clock == nil {
		c.clock = systemClock{}
	}
	return c, nil
}

// systemClock is the default Clock.
type systemClock struct{}

func (systemClock) NowNano() int64 { return time.Now().UnixNano() }
