package memory

import (
	"fmt"

	"github.com/layercache/layercache/pkg/cache/coarseclock"
)

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultName is the layer name used when Options.Name is empty.
	DefaultName = "memory"
	// DefaultMaxEntries is the entry bound used when Options.MaxEntries is 0.
	DefaultMaxEntries = 10_000
)

// EntryOverhead is the fixed number of bytes charged for every entry when
// Options.MaxBytes is set, on top of the lengths of its key, payload and
// tags. It estimates what the layer itself spends per entry: the store's
// node (80 bytes: list and timer-wheel links, deadline, weight, key header,
// item pointer), the item (80 bytes: value, tag slice, deadlines) and its
// hash-table slot (about 16 bytes).
const EntryOverhead = 176

// tagOverhead is charged per tag on top of its length: its string header in
// the tag slice.
const tagOverhead = 16

// Options configures a Layer. The zero value is valid and gives a layer
// named "memory" that holds at most 10,000 entries, unbounded by bytes, on
// the system clock.
type Options struct {
	// Name identifies the layer in metrics, events and per-layer options.
	// It must be unique within a Stack.
	//
	// default: "memory"
	Name string

	// MaxEntries is the most entries the layer holds. When it is full, the
	// entry least likely to be read again (W-TinyLFU: frequency and
	// recency) is evicted. Eviction runs right after writes, so the layer
	// may exceed the bound briefly. It must not be negative; 0 means the
	// default.
	//
	// With MaxBytes set, both bounds hold at once: every entry is charged
	// at least ceil(MaxBytes / MaxEntries) bytes (see MaxBytes).
	//
	// default: 10_000
	MaxEntries int

	// MaxBytes bounds the estimated memory of the stored entries, in bytes.
	// An entry is estimated as len(key) + len(Payload) + the lengths of its
	// tags (plus 16 bytes per tag) + EntryOverhead, where Payload is the
	// value as encoded by the Stack's codec: the layer stores the decoded
	// Value and drops the Payload, so the payload length stands in for the
	// size of the decoded value. Setting MaxBytes therefore makes
	// Info().NeedsPayload true, which asks the Stack to encode every value.
	//
	// To keep MaxEntries too, an entry is charged the larger of its
	// estimate and ceil(MaxBytes / MaxEntries). The charges never add up to
	// more than MaxBytes, so the layer holds at most MaxEntries entries and
	// at most MaxBytes estimated bytes; with a mix of small and large
	// entries it may hold fewer than either bound alone would allow. Set
	// MaxEntries high to bound by bytes alone.
	//
	// A Set of an entry charged more than MaxBytes fails with an error
	// wrapping cache.ErrTooLarge. MaxBytes must be 0 or at least
	// EntryOverhead.
	//
	// default: 0 (not bounded by bytes)
	MaxBytes int64

	// InitialCapacity is how many entries the layer sizes its table for up
	// front, which avoids resizing while it fills. It must not be negative
	// nor exceed MaxEntries (after its default); 0 lets the store pick.
	//
	// default: 0
	InitialCapacity int

	// Clock is the time source that decides when entries have expired. It
	// exists to make expiry testable without sleeping. A custom clock gets
	// no periodic clean-up goroutine: expired entries are invisible from
	// the moment they expire and are removed by the maintenance that
	// follows reads and writes.
	//
	// A clock that also has otter's Tick method (*otter.CoarseClock,
	// *coarseclock.Clock) is used as is, with its periodic clean-up.
	//
	// default: a coarse clock (coarseclock.New) that reads the system time
	// once per DefaultClockResolution, so deadlines are checked up to 1 ms
	// late, and sleeps after DefaultClockIdleAfter without reads (a read
	// then takes the precise time and wakes it); with a clean-up goroutine
	// that removes expired entries once a second. Close stops both.
	Clock Clock
}

// Clock is a source of time for a Layer.
type Clock interface {
	// NowNano returns the current time as Unix nanoseconds, the unit of
	// cache.Entry deadlines. It must be safe for concurrent use.
	NowNano() int64
}

// config is Options after defaults and validation.
type config struct {
	name            string
	maxEntries      int
	maxBytes        int64
	initialCapacity int
	clock           Clock // nil: the system clock
	// minCharge is the least an entry is charged when bounded by bytes,
	// so that MaxEntries entries fill MaxBytes: ceil(maxBytes/maxEntries).
	minCharge int64
}

// resolve applies defaults and validates o. It never adjusts a value the
// caller set; an invalid one is an error naming the field.
func (o *Options) resolve() (config, error) {
	c := config{
		name:            o.Name,
		maxEntries:      o.MaxEntries,
		maxBytes:        o.MaxBytes,
		initialCapacity: o.InitialCapacity,
		clock:           o.Clock,
	}
	if c.name == "" {
		c.name = DefaultName
	}
	if c.maxEntries < 0 {
		return config{}, fmt.Errorf("memory layer: MaxEntries must not be negative, got %d", c.maxEntries)
	}
	if c.maxEntries == 0 {
		c.maxEntries = DefaultMaxEntries
	}
	if c.maxBytes < 0 {
		return config{}, fmt.Errorf("memory layer: MaxBytes must not be negative, got %d", c.maxBytes)
	}
	if c.maxBytes > 0 && c.maxBytes < EntryOverhead {
		return config{}, fmt.Errorf("memory layer: MaxBytes must be 0 or at least EntryOverhead (%d), got %d",
			EntryOverhead, c.maxBytes)
	}
	if c.initialCapacity < 0 {
		return config{}, fmt.Errorf("memory layer: InitialCapacity must not be negative, got %d", c.initialCapacity)
	}
	if c.initialCapacity > c.maxEntries {
		return config{}, fmt.Errorf("memory layer: InitialCapacity (%d) must not exceed MaxEntries (%d)",
			c.initialCapacity, c.maxEntries)
	}
	if c.maxBytes > 0 {
		n := int64(c.maxEntries)
		c.minCharge = (c.maxBytes + n - 1) / n
	}
	return c, nil
}

// DefaultClockResolution is how often the default clock reads the system
// time.
const DefaultClockResolution = coarseclock.DefaultResolution

// DefaultClockIdleAfter is how long the default clock keeps ticking without
// a read before it sleeps. The store's clean-up reads it once a second, so
// an idle layer's clock wakes up about 10 times a second instead of 1000.
const DefaultClockIdleAfter = coarseclock.DefaultIdleAfter
