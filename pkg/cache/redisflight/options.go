package redisflight

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultPrefix is Options.Prefix when it is empty.
	DefaultPrefix = "layercache:flight:"
	// DefaultLease is Options.Lease when it is 0.
	DefaultLease = 30 * time.Second
	// DefaultWaitTimeout is Options.WaitTimeout when it is 0.
	DefaultWaitTimeout = 30 * time.Second
	// DefaultResultTTL is Options.ResultTTL when it is 0.
	DefaultResultTTL = 10 * time.Second
	// DefaultMaxResultBytes is Options.MaxResultBytes when it is 0.
	DefaultMaxResultBytes = 16 << 20
)

// Bounds of the interval at which a waiter checks the lease (Lease/10).
const (
	minPollEvery = 50 * time.Millisecond
	maxPollEvery = time.Second
)

// Options configures a Coordinator. Only Client is required. New does not
// modify the Options it is given.
type Options struct {
	// Client is the connection to Redis: a *redis.Client, a failover
	// (Sentinel) client, a *redis.ClusterClient or a *redis.Ring. Every
	// instance that coordinates on the same keys must use the same Redis
	// (or Cluster) and the same Prefix. The client belongs to the caller:
	// Close does not close it.
	//
	// default: none (required)
	Client redis.UniversalClient

	// Prefix is prepended to every Redis key and channel name the
	// coordinator uses (see the package documentation for the names). It
	// must not contain '{' or '}': the coordinator puts each key's hash tag
	// in the name itself, so that a Cluster keeps all of a key's names in
	// one slot.
	//
	// default: "layercache:flight:"
	Prefix string

	// Lease is how long a leader's claim on a key lives without renewal:
	// after a leader dies, its waiters take over once this much time has
	// passed since its last renewal. It is sent to Redis in whole
	// milliseconds and must be at least 1ms. Waiters check the lease every
	// Lease/10, but no more often than every 50ms and no less often than
	// every second.
	//
	// default: 30 seconds
	Lease time.Duration

	// RenewEvery is how often a leader extends its lease back to Lease
	// while its fetch runs. It must be positive and shorter than Lease;
	// leave room for a slow round trip, as the default does.
	//
	// default: Lease / 3
	RenewEvery time.Duration

	// WaitTimeout is how long Do waits for another instance's result.
	// When it passes while the leader still holds its lease (a live leader
	// with a slow fetch), Do gives up with a *WaitTimeoutError instead of
	// fetching too: a second fetch would defeat the coordination, and a
	// dead leader is already detected through its lease. Time spent
	// fetching after a takeover does not count.
	//
	// default: 30 seconds
	WaitTimeout time.Duration

	// ResultTTL is how long a leader's result stays readable in Redis
	// after the fetch, for waiters that check after the leader announced
	// it. It is not a cache: an instance that starts a new flight after
	// the leader finished never reads it. Whole milliseconds, at least 1ms.
	//
	// default: 10 seconds
	ResultTTL time.Duration

	// MaxResultBytes is the largest result, in bytes of Payload plus Err,
	// that a leader transfers to its waiters. For a larger one the leader
	// stores only a marker, and each waiter that reads it runs its own
	// fetch, uncoordinated: the value is too large to pass through Redis,
	// and fetching in turn would serialise the waiters.
	//
	// default: 16 MiB
	MaxResultBytes int
}

// config is Options after defaults and validation.
type config struct {
	Options
	pollEvery time.Duration // how often a waiter checks the lease
	fenceTTL  time.Duration // lifetime of a key's fencing counter
}

// resolve applies defaults and validates o. It never adjusts a value the
// caller set; an invalid one is an error naming the field.
func (o Options) resolve() (config, error) {
	if o.Client == nil {
		return config{}, errors.New("redisflight: Options.Client is required")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return config{}, fmt.Errorf("redisflight: Options.Prefix %q must not contain '{' or '}'", o.Prefix)
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Lease", &o.Lease, DefaultLease},
		{"WaitTimeout", &o.WaitTimeout, DefaultWaitTimeout},
		{"ResultTTL", &o.ResultTTL, DefaultResultTTL},
	} {
		if *f.v < 0 {
			return config{}, fmt.Errorf("redisflight: Options.%s is %s, must not be negative", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if o.Lease < time.Millisecond {
		return config{}, fmt.Errorf("redisflight: Options.Lease is %s, must be at least 1ms", o.Lease)
	}
	if o.ResultTTL < time.Millisecond {
		return config{}, fmt.Errorf("redisflight: Options.ResultTTL is %s, must be at least 1ms", o.ResultTTL)
	}
	switch {
	case o.RenewEvery < 0:
		return config{}, fmt.Errorf("redisflight: Options.RenewEvery is %s, must not be negative", o.RenewEvery)
	case o.RenewEvery == 0:
		o.RenewEvery = o.Lease / 3
	case o.RenewEvery >= o.Lease:
		return config{}, fmt.Errorf("redisflight: Options.RenewEvery (%s) must be shorter than Options.Lease (%s)",
			o.RenewEvery, o.Lease)
	}
	switch {
	case o.MaxResultBytes < 0:
		return config{}, fmt.Errorf("redisflight: Options.MaxResultBytes is %d, must not be negative", o.MaxResultBytes)
	case o.MaxResultBytes == 0:
		o.MaxResultBytes = DefaultMaxResultBytes
	}
	return config{
		Options:   o,
		pollEvery: min(max(o.Lease/10, minPollEvery), maxPollEvery),
		// The counter must outlive every lease it numbered, and renewals
		// extend it with the lease; after it expires, the claim script
		// seeds a new one from the server clock, above every old value.
		fenceTTL: 2*o.Lease + o.ResultTTL,
	}, nil
}
