package cache

// Entry is one cached item as layers store it. Deadlines are Unix times in
// nanoseconds; zero means "none".
//
// An Entry is a value type: copying it is cheap and layers may return the
// copies they hold. Callers must not mutate Payload or Tags of an Entry they
// did not build.
type Entry struct {
	// Value is the decoded Go value, kept by layers whose LayerInfo.Values is
	// true. It is nil for negative entries.
	Value any
	// Payload is the value encoded by the Stack's codec, kept by layers that
	// store bytes. It is empty for negative entries.
	Payload []byte
	// Tags are the tags the entry was written with, in the order given.
	Tags []string
	// FreshUntil is when the entry stops being fresh. Zero means it never
	// goes stale (and then StaleUntil and ErrorUntil are zero too).
	FreshUntil int64
	// StaleUntil ends the stale-while-revalidate window (zero: no window).
	// When set it is at or after FreshUntil.
	StaleUntil int64
	// ErrorUntil ends the stale-if-error window (zero: no window). When set
	// it is at or after FreshUntil.
	ErrorUntil int64
	// Negative marks a cached "not found" (negative caching).
	Negative bool
}

// State is what a stored entry is good for at a point in time.
type State uint8

// Entry states, from most to least usable.
const (
	// StateFresh: serve it.
	StateFresh State = iota
	// StateStale: inside the stale-while-revalidate window; serve it and
	// refresh in the background.
	StateStale
	// StateStaleIfError: inside the stale-if-error window; serve it only
	// when a refresh fails.
	StateStaleIfError
	// StateExpired: past every window; treat as a miss.
	StateExpired
)

// String returns the state's name as it appears in events and metrics.
func (s State) String() string {
	switch s {
	case StateFresh:
		return "fresh"
	case StateStale:
		return "stale"
	case StateStaleIfError:
		return "stale-if-error"
	default:
		return "expired"
	}
}

// State reports the entry's state at now (Unix nanoseconds).
func (e *Entry) State(now int64) State {
	switch {
	case e.FreshUntil == 0 || now < e.FreshUntil:
		return StateFresh
	case now < e.StaleUntil:
		return StateStale
	case now < e.ErrorUntil:
		return StateStaleIfError
	default:
		return StateExpired
	}
}

// ExpiresAt is when a layer may drop the entry: the latest of its deadlines,
// or zero when it never expires.
func (e *Entry) ExpiresAt() int64 {
	if e.FreshUntil == 0 {
		return 0
	}
	return max(e.FreshUntil, e.StaleUntil, e.ErrorUntil)
}
