// Package breaker keeps one circuit breaker per key, so that a source that
// keeps failing for some keys is left alone for a while instead of being
// called on every cache miss.
//
// A breaker is Closed (calls go through and their outcomes are counted),
// Open (calls are refused with an *OpenError for Options.OpenFor) or
// HalfOpen (after OpenFor, at most Options.HalfOpenProbes calls go through;
// if all of them succeed the breaker closes, and the first failure opens it
// again). A closed breaker trips on Options.ConsecutiveFailures failures in
// a row, or when at least Options.FailureRatio of the calls that ended in
// the last Options.Window failed, counting only once Options.MinRequests
// calls have ended in that window.
//
// A [Set] holds the breakers, at most Options.MaxBreakers of them: when it
// is full, the least recently used breaker with no call in flight is
// dropped, and its key starts again with a fresh closed breaker. A key with
// no breaker is closed; its breaker is made by its first Allow.
//
// # Using it
//
//	done, err := set.Allow(key)
//	if err != nil {
//		return err // *OpenError: errors.Is(err, breaker.ErrOpen)
//	}
//	ok := false
//	defer func() { done(ok) }() // a panic counts as a failure
//	err = fetch(ctx)
//	ok = err == nil
//	return err
//
// The caller must call done exactly once per successful Allow, with the
// outcome of the guarded call. A half-open breaker waits for the verdict of
// its probes: a probe whose done is never called keeps its key half-open,
// refusing every other call, for as long as the breaker is held. Calling
// done in a defer, as above, makes a panic count as a failure.
//
// A call that ends because the caller gave up (a cancelled context, a
// timeout) is best reported as a failure: a source too slow to answer is
// what a breaker is for. done has no "no verdict" outcome, so other guards
// whose refusal says nothing about the source (a rate limiter, say) belong
// before Allow, not between Allow and the call; [Set.Check] lets the caller
// skip them when the breaker would refuse anyway.
//
// # Keys
//
// Keys are opaque strings; which calls share a breaker is the caller's
// choice. Namespace them so that different scopes cannot collide: the cache
// uses "key:<cache key>" for a breaker per key, "group:<name>" for a named
// group of fetches and "scope:shared" for one breaker in front of the whole
// source, so a cache key literally named "shared" never shares a breaker
// with the shared scope.
//
// # Concurrency, zero value, panics
//
// A *Set is safe for concurrent use; the zero Set is not usable, make one
// with [New]. Breakers live in shards, each behind its own mutex; Allow and
// done on an existing closed breaker take one shard lock and allocate
// nothing. Nothing in this package starts a goroutine, sleeps or keeps
// global state.
//
// The Set calls two functions of the caller: Options.Clock (under a shard
// lock: it must not call back into the Set) and Options.OnStateChange
// (after the lock is released: it may call the Set). A panic in either
// propagates to the caller of Allow, Check, State or done, and leaves the
// Set consistent.
//
// # Why not sony/gobreaker
//
// github.com/sony/gobreaker/v2 (v2.4.0) has the right state machine: its
// ReadyToTrip sees the consecutive failures and rolling counts needed for
// both trip conditions, and MaxRequests is the half-open probe count. It
// does not fit under a keyed, bounded map with our contract, though:
//
//   - it reads time.Now() directly, so the time-dependent behaviour (open
//     period, window roll) cannot be tested with an injected clock, only by
//     sleeping;
//   - it does not expose when an open breaker will half-open, which
//     OpenError.RetryAfter needs;
//   - TwoStepCircuitBreaker.Allow allocates a closure on every call,
//     including on a closed breaker, and each breaker carries its own
//     mutex, settings and function fields, which a bounded set of 10,000
//     breakers would repeat 10,000 times;
//   - it calls OnStateChange while holding the breaker's mutex, so a
//     callback that reads the breaker deadlocks;
//   - the keyed map, the LRU bound and the sharded locking would be ours
//     anyway, and are most of the code.
//
// So this package implements the state machine itself, on a fixed ring of
// counters per breaker and one generation object per state change.
package breaker
