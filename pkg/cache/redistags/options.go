package redistags

import (
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultPrefix is the key prefix used when Options.Prefix is empty.
	DefaultPrefix = "layercache:tags:"
	// DefaultShards is the number of shards used when Options.Shards is 0.
	DefaultShards = 16
	// DefaultExpiryGrace is the grace used when Options.ExpiryGrace is 0.
	DefaultExpiryGrace = time.Minute
)

// maxShards is the number of Redis Cluster hash slots: more shards cannot
// spread a tag any further.
const maxShards = 16384

// Mode says how Track and Untrack update Redis.
type Mode uint8

const (
	// ModeAuto picks ModeAtomic for a *redis.Client (standalone or
	// Sentinel) and ModePerSlot for every other client.
	ModeAuto Mode = iota
	// ModeAtomic updates each key with one Lua script that touches its
	// record and all of its tags' sets. Every key must live on one server:
	// it is rejected for a *redis.ClusterClient or a *redis.Ring, and fails
	// with CROSSSLOT behind a proxy that enforces Cluster's rules.
	ModeAtomic
	// ModePerSlot updates each key with a sequence of commands and
	// scripts that each touch one slot. It works on any deployment and is
	// not atomic (see the package documentation).
	ModePerSlot
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeAtomic:
		return "atomic"
	case ModePerSlot:
		return "per-slot"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Options configures an Index. Client is required; every other field has a
// default.
type Options struct {
	// Client is the Redis client the index sends its commands to. The
	// index does not close it.
	//
	// default: none, it is required
	Client redis.UniversalClient

	// Prefix starts every Redis key the index creates; Clear deletes every
	// key that starts with it. Instances share an index by using the same
	// Redis, Prefix and Shards. It must not contain '{' or '}', which would
	// change the keys' Cluster hash slots; an empty Prefix means the default.
	//
	// default: "layercache:tags:"
	Prefix string

	// Shards is how many parts each tag's sets are split into, by a hash of
	// the cache key; on Cluster the parts land in different slots. Keys
	// costs at least one pipelined round trip for all shards, plus one per
	// page of each non-empty shard of each tag. Every instance sharing the
	// Prefix must use the same value: changing it needs a Clear, or a new
	// Prefix. It must be between 1 and 16384; 0 means the default.
	//
	// default: 16
	Shards int

	// Mode says how Track and Untrack update Redis: atomically, with one
	// script per key, or per slot. See Mode and the package documentation.
	//
	// default: ModeAuto (atomic for a *redis.Client, per-slot otherwise)
	Mode Mode

	// ExpiryGrace is how long Redis keeps a key's record, and a tag's sets,
	// after the last deadline they hold. It absorbs clock skew between the
	// instances and Redis. It must not be negative; 0 means the default.
	//
	// default: 1 minute
	ExpiryGrace time.Duration

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
	client  redis.UniversalClient
	prefix  string
	shards  int
	perSlot bool
	graceMs int64
	clock   Clock
}

// resolve applies defaults and validates o. It never adjusts a value the
// caller set; an invalid one is an error naming the field.
func (o *Options) resolve() (config, error) {
	c := config{client: o.Client, prefix: o.Prefix, shards: o.Shards, clock: o.Clock}
	if c.client == nil {
		return config{}, fmt.Errorf("redis tag index: Client is required")
	}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	if strings.ContainsAny(c.prefix, "{}") {
		return config{}, fmt.Errorf("redis tag index: Prefix must not contain '{' or '}', got %q", c.prefix)
	}
	if c.shards < 0 || c.shards > maxShards {
		return config{}, fmt.Errorf("redis tag index: Shards must be between 1 and %d (or 0 for the default), got %d",
			maxShards, c.shards)
	}
	if c.shards == 0 {
		c.shards = DefaultShards
	}
	_, single := o.Client.(*redis.Client)
	switch o.Mode {
	case ModeAuto:
		c.perSlot = !single
	case ModeAtomic:
		switch o.Client.(type) {
		case *redis.ClusterClient, *redis.Ring:
			return config{}, fmt.Errorf("redis tag index: Mode ModeAtomic needs every key on one server, "+
				"which a %T does not give", o.Client)
		}
	case ModePerSlot:
		c.perSlot = true
	default:
		return config{}, fmt.Errorf("redis tag index: unknown Mode %d", uint8(o.Mode))
	}
	grace := o.ExpiryGrace
	if grace < 0 {
		return config{}, fmt.Errorf("redis tag index: ExpiryGrace must not be negative, got %s", grace)
	}
	if grace == 0 {
		grace = DefaultExpiryGrace
	}
	c.graceMs = (grace + time.Millisecond - 1).Milliseconds()
	if c.clock == nil {
		c.clock = systemClock{}
	}
	return c, nil
}

// systemClock is the default Clock.
type systemClock struct{}

func (systemClock) NowNano() int64 { return time.Now().UnixNano() }
