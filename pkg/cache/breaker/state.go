package breaker

import "strconv"

// State is the state of one breaker.
type State uint8

const (
	// Closed means calls go through and their outcomes are counted. A key
	// with no breaker is Closed.
	Closed State = iota
	// Open means calls are refused with an *OpenError until Options.OpenFor
	// has passed since the breaker tripped.
	Open
	// HalfOpen means up to Options.HalfOpenProbes calls go through; their
	// outcomes decide whether the breaker closes or opens again.
	HalfOpen
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	default:
		return "State(" + strconv.Itoa(int(s)) + ")"
	}
}

// Stats is a snapshot of a Set's counters.
type Stats struct {
	// Trips counts changes to Open: from Closed when a trip condition was
	// met, and from HalfOpen when a probe failed.
	Trips uint64
	// Rejections counts calls refused by Allow or Check.
	Rejections uint64
	// Evictions counts breakers dropped to stay within MaxBreakers.
	Evictions uint64
	// Closed, Open and HalfOpen count the breakers now in each state. An
	// open breaker whose OpenFor has passed is counted as HalfOpen.
	Closed, Open, HalfOpen int
}
