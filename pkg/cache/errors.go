package cache

import (
	"errors"
	"fmt"
	"github.com/layercache/layercache/pkg/cache/singleflight"
	"time"
)

// ErrMiss is returned by Get when no layer holds a usable value for the key
// and no fetcher was given.
var ErrMiss = errors.New("cache: miss")

// ErrNotFound may be returned by a fetcher to say "absent at the source".
// It is not counted as a fetch failure; with negative caching on, the absence
// is cached for the negative TTL. Get returns it (wrapped) to the caller.
var ErrNotFound = errors.New("cache: not found")

// ErrClosed is returned by every operation on a Stack after Close.
var ErrClosed = errors.New("cache: stack closed")

// ErrInvalidKey is wrapped by the error returned for a key, tag or prefix
// that fails validation (empty, longer than MaxKeyLen bytes, control
// characters or invalid UTF-8).
var ErrInvalidKey = errors.New("cache: invalid key")

// ErrTooLarge is wrapped by the error returned when an encoded value exceeds
// Options.MaxValueBytes or a layer's own limit.
var ErrTooLarge = errors.New("cache: value too large")

// TimeoutError is returned when a caller's wait for a shared fetch ended
// because of Options.FetchTimeout (not because the caller's own context
// ended, which yields the context's error).
type TimeoutError struct {
	Key     string
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("cache: fetch of %q timed out after %s", e.Key, e.Timeout)
}

// LayerError wraps a failure of one layer. errors.As finds it; Unwrap gives
// the layer's own error.
type LayerError struct {
	Layer string // LayerInfo.Name
	Op    string // "get", "set", "delete", "scan", "clear", ...
	Key   string // empty for operations that are not about one key
	Err   error
}

func (e *LayerError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("cache: layer %s: %s: %v", e.Layer, e.Op, e.Err)
	}
	return fmt.Sprintf("cache: layer %s: %s %q: %v", e.Layer, e.Op, e.Key, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }

// PanicError is returned to every waiter of a fetch whose fetcher panicked.
// The panic does not crash the process and does not leave the key stuck.
// errors.As finds it; Unwrap gives the panic value when it is an error.
type PanicError = singleflight.PanicError

// TypeError is returned when a caller joined a fetch of its key started
// through a View of another type.
type TypeError struct {
	Key       string
	Got, Want any
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("cache: key %q: a concurrent fetch produced %T, this view wants %T", e.Key, e.Got, e.Want)
}
