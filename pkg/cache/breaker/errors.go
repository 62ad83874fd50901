package breaker

import (
	"errors"
	"fmt"
	"time"
)

// ErrOpen is what every *OpenError unwraps to, so that errors.Is(err,
// ErrOpen) tells a refusal by a breaker from any other error.
var ErrOpen = errors.New("breaker: open")

// OpenError is returned by [Set.Allow] and [Set.Check] when the key's
// breaker refuses the call: it is open, or it is half-open and all of its
// probes are taken. errors.As finds it; errors.Is(err, ErrOpen) is true.
type OpenError struct {
	// Key is the breaker's key, as passed to Allow.
	Key string
	// State is Open or HalfOpen.
	State State
	// RetryAfter is how long the breaker stays open from the moment of
	// the refusal; after it, the breaker lets probes through. It is 0 when
	// the breaker is half-open: its verdict comes as soon as the probes in
	// flight end.
	RetryAfter time.Duration
}

func (e *OpenError) Error() string {
	if e.State == HalfOpen {
		return fmt.Sprintf("breaker: %q is half-open and its probes are all in flight", e.Key)
	}
	return fmt.Sprintf("breaker: %q is open (retry in %s)", e.Key, e.RetryAfter)
}

// Unwrap returns ErrOpen.
func (e *OpenError) Unwrap() error { return ErrOpen }
