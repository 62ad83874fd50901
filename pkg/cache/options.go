package cache

import (
	"fmt"
	"time"

	"github.com/layercache/layercache/pkg/cache/codec"
)

// Options configures a Stack. The zero Options is valid: every field has a
// documented default. New never modifies the Options it is given and never
// fixes a bad value quietly: it returns an error that names the field.
type Options struct {
	// Codec encodes values for the layers that store bytes.
	//
	// default: codec.JSON{}
	Codec codec.Codec

	// TTL is how long a written entry stays fresh when neither the call nor
	// Layers says otherwise. Zero means entries never go stale.
	//
	// default: 0 (no expiry)
	TTL time.Duration

	// Layers overrides TTL, the stale windows, NegativeTTL and TTLJitter
	// for the layers it names (by LayerInfo.Name), e.g. a short TTL in
	// memory and a long one in Redis. Per-call options win over it.
	//
	// default: none
	Layers map[string]LayerOptions

	// StaleWhileRevalidate is how long after freshness ends an entry is still
	// served while one background refresh replaces it.
	//
	// default: 0 (no window)
	StaleWhileRevalidate time.Duration

	// StaleIfError is how long after freshness ends an entry is still served
	// when the fetcher fails.
	//
	// default: 0 (no window)
	StaleIfError time.Duration

	// TTLPolicy computes the fresh TTL at write time (until midnight, to
	// the next hour, aligned to a period, or any function; see package
	// ttlpolicy). An explicit TTL option on the call wins over it; it wins
	// over TTL and Layers.
	//
	// default: none
	TTLPolicy TTLPolicy

	// TTLPolicies are named policies a call selects with WithTTLPolicy.
	//
	// default: none
	TTLPolicies map[string]TTLPolicy

	// TTLJitter lengthens each written TTL by a random amount in
	// [0, TTLJitter], independently per layer, so entries written together
	// do not expire together.
	//
	// default: 0 (no jitter)
	TTLJitter time.Duration

	// SlidingTTL makes every fresh hit restart the entry's freshness (and
	// its windows) in every layer that holds it. It costs a read and a write
	// per layer on each hit; use it for session-like data.
	//
	// default: false
	SlidingTTL bool

	// RefreshAhead starts a background refresh on a fresh hit whose
	// remaining freshness is at most this long, so hot keys are replaced
	// before they go stale. Needs a fetcher on the Get; GetMany refreshes
	// the keys it finds due with one call of its bulk fetcher.
	//
	// default: 0 (off)
	RefreshAhead time.Duration

	// EarlyRefresh enables probabilistic early refresh (XFetch): a fresh hit
	// refreshes in the background with a probability that grows as expiry
	// nears and with how long the key's last fetch took, scaled by this
	// factor (1 is the usual choice; larger refreshes earlier).
	//
	// default: 0 (off)
	EarlyRefresh float64

	// AdaptiveTTL, when set, lengthens the TTL of keys that are read often.
	//
	// default: nil (off)
	AdaptiveTTL *AdaptiveTTL

	// MaxProfiles bounds the per-key access profiles kept for AdaptiveTTL
	// and EarlyRefresh; the least valuable are evicted beyond it.
	//
	// default: 100,000
	MaxProfiles int

	// NegativeTTL is how long a fetcher's ErrNotFound is cached, so repeated
	// lookups of an absent key do not reach the source. Zero disables
	// negative caching.
	//
	// default: 0 (absence is not cached)
	NegativeTTL time.Duration

	// MaxValueBytes is the largest encoded value a write accepts; larger
	// values fail with an error wrapping ErrTooLarge and nothing is stored.
	//
	// default: 16 MiB
	MaxValueBytes int

	// FetchTimeout bounds each fetcher call (the fetcher's context ends
	// after it). Zero means fetches are bounded only by their callers:
	// a fetch is cancelled when every caller waiting on it has left.
	//
	// default: 0 (no timeout)
	FetchTimeout time.Duration

	// RefreshTimeout bounds background refreshes (stale-while-revalidate),
	// which have no caller whose context could end them.
	//
	// default: 30 seconds
	RefreshTimeout time.Duration

	// TagIndex maps tags to keys for InvalidateTag. Use
	// pkg/cache/redistags to share one index between instances.
	//
	// default: an in-process index (pkg/cache/tagindex), which only knows
	// the keys this process wrote
	TagIndex TagIndex

	// Generations turns on generation-qualified keys (BumpGeneration).
	//
	// default: nil (off)
	Generations *Generations

	// DegradeFor turns on graceful degradation: a layer that fails is
	// skipped for this long (reads and writes go to the other layers), then
	// tried again. Zero keeps every layer in use and reports each failure.
	//
	// default: 0 (off)
	DegradeFor time.Duration

	// WritePolicy says when a write some layers failed is an error.
	//
	// default: WriteStrict
	WritePolicy WritePolicy

	// Breaker guards fetches with circuit breakers (pkg/cache/breaker).
	// With a stale-if-error window, an open breaker serves the stale value.
	//
	// default: nil (no breaker)
	Breaker Breaker

	// BreakerScope says which fetches share a breaker: one per key, or one
	// for the whole Stack. FetchGroup overrides it per call.
	//
	// default: ScopeKey (ScopeDefault)
	BreakerScope Scope

	// RateLimiter bounds how fast fetches reach the source
	// (pkg/cache/ratelimit).
	//
	// default: nil (no limit)
	RateLimiter RateLimiter

	// RateLimitScope says which fetches share a rate-limit bucket.
	//
	// default: ScopeShared (ScopeDefault)
	RateLimitScope Scope

	// Bus carries invalidations to the other instances that share this
	// Stack's slower layers (pkg/cache/redisbus): deletes, expirations,
	// clears and generation bumps here drop their local copies. A failed
	// first subscription is retried in the background. The Stack closes
	// it on Close.
	//
	// default: nil (this instance only)
	Bus InvalidationBus

	// BroadcastWrites also publishes every Set and SetMany, so other
	// instances drop their local copies of a key rewritten here.
	//
	// default: false
	BroadcastWrites bool

	// Coordinator extends single-flight across instances
	// (pkg/cache/redisflight): of all the instances missing a key at once,
	// one fetches and the others receive its result. If the coordination
	// itself fails (Redis unreachable), the instance fetches on its own.
	// GetMany is coordinated too when it is a BulkCoordinator. The Stack
	// closes it on Close when it has a Close method.
	//
	// default: nil (one fetch per instance)
	Coordinator Coordinator

	// Clock tells the time in Unix nanoseconds. It exists to make tests
	// deterministic.
	//
	// default: the clock of the fastest layer that lends one (ClockLender;
	// the memory layer lends its own), else a coarse clock that reads the
	// system time once per millisecond and sleeps after 10 ms without reads
	// (pkg/cache/coarseclock), owned and stopped by the Stack (reading the
	// precise time costs more than an L1 hit)
	Clock Clock
}

// LayerOptions overrides Stack options for one layer. A nil field inherits
// the Stack's value.
type LayerOptions struct {
	TTL                  *time.Duration
	StaleWhileRevalidate *time.Duration
	StaleIfError         *time.Duration
	NegativeTTL          *time.Duration
	TTLJitter            *time.Duration
}

// TTLPolicy computes a fresh TTL at write time. Package ttlpolicy has the
// usual ones; a returned TTL must be positive.
type TTLPolicy interface {
	TTL(now time.Time) time.Duration
}

// AdaptiveTTL lengthens the TTL of hot keys: once a key has been read
// HotAfter times, each further HotAfter reads add Step to its base TTL, up
// to Max. Reads are counted per key in a bounded profile table
// (Options.MaxProfiles).
type AdaptiveTTL struct {
	// HotAfter is the number of reads per step. default: 3
	HotAfter int
	// Step is added per HotAfter reads. default: half the base TTL
	Step time.Duration
	// Max caps the adapted TTL. default: base TTL + 4 steps
	Max time.Duration
}

// Clock reads the current time in Unix nanoseconds. It must be safe for
// concurrent use. *otter.CoarseClock satisfies it.
type Clock interface {
	NowNano() int64
}

// Default values of Options fields, applied when the field is zero.
const (
	DefaultMaxValueBytes  = 16 << 20
	DefaultRefreshTimeout = 30 * time.Second
	DefaultMaxProfiles    = 100_000
	DefaultHotAfter       = 3
)

// validate checks o and returns it with defaults filled in. Names of layers
// are needed to check Layers.
func (o Options) validate(layerNames map[string]bool) (Options, error) {
	if o.Codec == nil {
		o.Codec = codec.JSON{}
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"TTL", o.TTL}, {"StaleWhileRevalidate", o.StaleWhileRevalidate}, {"StaleIfError", o.StaleIfError},
		{"NegativeTTL", o.NegativeTTL}, {"FetchTimeout", o.FetchTimeout}, {"RefreshTimeout", o.RefreshTimeout},
		{"TTLJitter", o.TTLJitter}, {"RefreshAhead", o.RefreshAhead},
	}
	for _, f := range durations {
		if err := checkDuration(f.d); err != nil {
			return o, fmt.Errorf("cache: Options.%s %w", f.name, err)
		}
	}
	for name, lo := range o.Layers {
		if !layerNames[name] {
			return o, fmt.Errorf("cache: Options.Layers names layer %q, which is not in the stack", name)
		}
		fields := []struct {
			field string
			d     *time.Duration
		}{{"TTL", lo.TTL}, {"StaleWhileRevalidate", lo.StaleWhileRevalidate}, {"StaleIfError", lo.StaleIfError},
			{"NegativeTTL", lo.NegativeTTL}, {"TTLJitter", lo.TTLJitter}}
		for _, f := range fields {
			if f.d == nil {
				continue
			}
			if err := checkDuration(*f.d); err != nil {
				return o, fmt.Errorf("cache: Options.Layers[%q].%s %w", name, f.field, err)
			}
		}
	}
	switch {
	case o.MaxValueBytes < 0:
		return o, fmt.Errorf("cache: Options.MaxValueBytes is %d; it must not be negative", o.MaxValueBytes)
	case o.MaxValueBytes == 0:
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	for name, p := range o.TTLPolicies {
		if name == "" || p == nil {
			return o, fmt.Errorf("cache: Options.TTLPolicies needs non-empty names and non-nil policies (got %q)", name)
		}
	}
	if o.EarlyRefresh < 0 || o.EarlyRefresh != o.EarlyRefresh {
		return o, fmt.Errorf("cache: Options.EarlyRefresh is %v; it must be a non-negative number", o.EarlyRefresh)
	}
	switch {
	case o.MaxProfiles < 0:
		return o, fmt.Errorf("cache: Options.MaxProfiles is %d; it must not be negative", o.MaxProfiles)
	case o.MaxProfiles == 0:
		o.MaxProfiles = DefaultMaxProfiles
	}
	if a := o.AdaptiveTTL; a != nil {
		if a.HotAfter < 0 || a.Step < 0 || a.Max < 0 {
			return o, fmt.Errorf("cache: Options.AdaptiveTTL fields must not be negative")
		}
		cp := *a // never modify the caller's Options
		if cp.HotAfter == 0 {
			cp.HotAfter = DefaultHotAfter
		}
		o.AdaptiveTTL = &cp
	}
	if g := o.Generations; g != nil {
		if g.Refresh < 0 {
			return o, fmt.Errorf("cache: Options.Generations.Refresh is %s; it must not be negative", g.Refresh)
		}
		cp := *g
		if cp.Refresh == 0 {
			cp.Refresh = time.Second
		}
		o.Generations = &cp
	}
	if err := validateResilience(&o); err != nil {
		return o, err
	}
	if o.RefreshTimeout == 0 {
		o.RefreshTimeout = DefaultRefreshTimeout
	}
	return o, nil
}

// MaxDuration bounds every duration of Options and of the call options: 50
// years. Deadlines are Unix nanoseconds in an int64, which run out in 2262;
// a deadline adds up to three of these durations to now (TTL, jitter and a
// stale window), which this bound keeps well inside that range instead of
// letting a long TTL overflow into the past.
const MaxDuration = 50 * 365 * 24 * time.Hour

// checkDuration reports a duration that is negative or above MaxDuration;
// its message reads after the option's name.
func checkDuration(d time.Duration) error {
	switch {
	case d < 0:
		return fmt.Errorf("is %s; it must not be negative", d)
	case d > MaxDuration:
		return fmt.Errorf("is %s; it must be at most MaxDuration (50 years)", d)
	}
	return nil
}
