package ratelimit

import (
	"errors"
	"fmt"
)

// ErrLimited is what every *LimitedError unwraps to, so that
// errors.Is(err, ErrLimited) tells a refusal by the limiter from any other
// error (a cancelled context, say).
var ErrLimited = errors.New("ratelimit: limited")

// Reason says why a call was refused.
type Reason uint8

const (
	// QueueFull means Options.MaxQueue callers were already waiting in the
	// bucket.
	QueueFull Reason = iota + 1
	// BucketsFull means the bucket did not exist, Options.MaxBuckets buckets
	// did, and every one of them had callers waiting or in flight, so
	// none could be dropped to make room.
	BucketsFull
)

// String returns "queue full" or "buckets full".
func (r Reason) String() string {
	switch r {
	case QueueFull:
		return "queue full"
	case BucketsFull:
		return "buckets full"
	default:
		return fmt.Sprintf("Reason(%d)", uint8(r))
	}
}

// LimitedError is returned by [Limiter.Acquire] when the call overflows
// (see [Reason]) and Options.Overflow is Reject. errors.As finds it;
// errors.Is(err, ErrLimited) is true. It is never returned for a cancelled
// or expired context: Acquire returns an error wrapping the context's error
// then.
type LimitedError struct {
	// Bucket is the bucket passed to Acquire.
	Bucket string
	// Reason says which bound was hit.
	Reason Reason
	// Limit is that bound: Options.MaxQueue or Options.MaxBuckets.
	Limit int
}

func (e *LimitedError) Error() string {
	if e.Reason == BucketsFull {
		return fmt.Sprintf("ratelimit: bucket %q: all %d buckets are busy", e.Bucket, e.Limit)
	}
	return fmt.Sprintf("ratelimit: bucket %q: %s (%d waiting)", e.Bucket, e.Reason, e.Limit)
}

// Unwrap returns ErrLimited.
func (e *LimitedError) Unwrap() error { return ErrLimited }
