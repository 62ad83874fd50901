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
	// LayerTTL says otherwise. Zero means entries never go stale.
	//
	// default: 0 (no expiry)
	TTL time.Duration

	// LayerTTL overrides TTL for the layers it names (by LayerInfo.Name),
	// e.g. a short TTL in memory and a long one in Redis. A per-call
	// LayerTTL option wins over this map.
	//
	// default: none
	LayerTTL map[string]time.Duration

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

	// Clock tells the time in Unix nanoseconds. It exists to make tests
	// deterministic.
	//
	// default: a coarse clock that reads the system time once per
	// millisecond, owned and stopped by the Stack (reading the precise
	// time costs more than an L1 hit)
	Clock Clock
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
)

// validate checks o and returns it with defaults filled in. Names of layers
// are needed to check LayerTTL.
func (o Options) validate(layerNames map[string]bool) (Options, error) {
	if o.Codec == nil {
		o.Codec = codec.JSON{}
	}
	nonNegative := []struct {
		name string
		d    time.Duration
	}{
		{"TTL", o.TTL}, {"StaleWhileRevalidate", o.StaleWhileRevalidate}, {"StaleIfError", o.StaleIfError},
		{"NegativeTTL", o.NegativeTTL}, {"FetchTimeout", o.FetchTimeout}, {"RefreshTimeout", o.RefreshTimeout},
	}
	for _, f := range nonNegative {
		if f.d < 0 {
			return o, fmt.Errorf("cache: Options.%s is %s; it must not be negative", f.name, f.d)
		}
	}
	for name, d := range o.LayerTTL {
		if !layerNames[name] {
			return o, fmt.Errorf("cache: Options.LayerTTL names layer %q, which is not in the stack", name)
		}
		if d < 0 {
			return o, fmt.Errorf("cache: Options.LayerTTL[%q] is %s; it must not be negative", name, d)
		}
	}
	switch {
	case o.MaxValueBytes < 0:
		return o, fmt.Errorf("cache: Options.MaxValueBytes is %d; it must not be negative", o.MaxValueBytes)
	case o.MaxValueBytes == 0:
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.RefreshTimeout == 0 {
		o.RefreshTimeout = DefaultRefreshTimeout
	}
	return o, nil
}
