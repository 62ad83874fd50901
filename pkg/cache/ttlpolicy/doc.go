// Package ttlpolicy computes cache TTLs at write time: TTLs that end on a
// wall-clock boundary (midnight, the top of the hour, every 15 minutes) in
// a given time zone, and random jitter that spreads the expiry of entries
// written together.
//
// A [Policy] returns a fresh TTL for each write, from the write's time. The
// policies built by this package always return a TTL > 0: at the boundary
// itself they return the whole period (24h at midnight for
// [UntilMidnight]), never 0. That matters because 0 means "never goes
// stale" to the cache engine.
//
// Boundaries are wall-clock times in the policy's *time.Location, so they
// follow daylight saving time and zones whose offset is not a whole number
// of hours (Asia/Kolkata +05:30, Asia/Kathmandu +05:45): NextHour in
// Kolkata ends at 10:00 local time, which is 04:30 UTC. Around a DST change:
//
//   - when the clock jumps forward over a boundary (New York's 02:00 on a
//     spring-forward day, or Santiago's midnight), the boundary is the
//     instant of the jump: a daily TTL still ends when the new day starts;
//   - when the clock falls back and shows an aligned time a second time
//     (New York's 01:00 EST after 01:59 EDT), that is a boundary again;
//   - a day can be 23 or 25 hours long, so UntilMidnight called at midnight
//     returns 23h or 25h on those days.
//
// Concurrency: every Policy built here is immutable and safe for concurrent
// use; a [Func] is as safe as the function it wraps. A [Jitter] is safe for
// concurrent use. Nothing here starts a goroutine or keeps global state.
package ttlpolicy
