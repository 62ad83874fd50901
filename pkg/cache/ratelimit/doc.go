// Package ratelimit bounds how fast, and how many at once, cache fetches
// reach their source: per named bucket, a token bucket
// (golang.org/x/time/rate) for the rate, an optional bound on calls in
// flight, and a bounded queue of waiting callers.
//
//	release, err := lim.Acquire(ctx, "global")
//	if err != nil {
//		return err // *LimitedError, or the context's error
//	}
//	defer release()
//	return fetch(ctx)
//
// Acquire blocks until the call may start. Calls beyond the queue bound
// are refused with a *LimitedError by default; Options.Overflow Bypass lets
// them through instead, counted in Stats.Bypassed (the reference
// implementation used to bypass silently, which removed the limit exactly
// when the source was under the most pressure, hence the default).
//
// # Buckets
//
// Every bucket has its own tokens, slots and queue, with the limits of the
// Options. Which calls share a bucket is the caller's choice; name buckets
// with a prefix per scope so that scopes cannot collide. The cache uses:
//
//   - "scope:shared" for one bucket in front of the whole source (its
//     default);
//   - "key:<cache key>" for a bucket per key;
//   - "group:<name>" for a named group of fetches (one per fetcher or
//     upstream service, say).
//
// Other users of this package may prefer "global" and "fetcher:<name>";
// what matters is that a key literally named like a scope ("shared",
// "global") cannot land in the scope's bucket. A per-key scope makes many
// buckets: at most Options.MaxBuckets exist, and idle ones are dropped,
// least recently used first.
//
// # Concurrency, zero value, cancellation, panics
//
// A *Limiter is safe for concurrent use; the zero Limiter is not usable,
// make one with [New]. One mutex guards the bucket map for a moment per
// Acquire and release; waiting happens outside it, in a select on the
// caller's ctx, so a waiting caller costs no goroutine and no lock.
// Nothing in this package starts a goroutine or keeps global state.
//
// A caller whose ctx ends while it waits leaves the queue at once and gives
// back its slot and its token; Acquire then returns an error wrapping
// ctx.Err(). A caller whose ctx has a deadline earlier than its token
// would come is refused at once with an error wrapping
// context.DeadlineExceeded, rather than waiting to fail.
//
// The Limiter calls no code of the caller's, so it cannot panic on the
// caller's behalf. A call that panics between Acquire and release keeps its
// slot unless release is deferred, as above.
//
// # Time
//
// golang.org/x/time/rate reads the system clock, so there is no Clock
// option. Tests of rates run in a testing/synctest bubble, whose fake clock
// x/time/rate reads too.
package ratelimit
