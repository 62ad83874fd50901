package redisflight

import (
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned by Do after Close, and by a Do that was waiting for
// another instance's result when Close was called.
var ErrClosed = errors.New("redisflight: coordinator closed")

// WaitTimeoutError is returned by Do when Options.WaitTimeout passed while
// it waited for another instance's fetch, whose leader still held its
// lease. errors.As finds it.
type WaitTimeoutError struct {
	Key  string
	Wait time.Duration // Options.WaitTimeout
}

func (e *WaitTimeoutError) Error() string {
	return fmt.Sprintf("redisflight: waited %s for another instance's fetch of %q", e.Wait, e.Key)
}

// Timeout reports true, so callers that check for timeouts generically
// (interface{ Timeout() bool }) recognise it.
func (e *WaitTimeoutError) Timeout() bool { return true }
