// Package redisflight implements cache.Coordinator on Redis: a single-flight
// that spans processes. Of all the calls, in any process, that Do the same
// key at once, one (the leader) runs its fetch and the others (waiters)
// receive the leader's cache.Result through Redis, whatever it is: a value,
// a "not found" or an error. Nothing depends on a cache layer storing the
// value, so results that are not cached still reach the waiters.
//
// A Coordinator is safe for concurrent use. It does not deduplicate calls
// within its process: each Do talks to Redis, so callers (the Stack) run Do
// inside their local single-flight. Results returned by Do belong to the
// caller.
//
// # Protocol
//
// For a key k and Options.Prefix P, the names are (T is the hash tag {k}):
//
//	P lease:T   the leader's lease: "<random token, 128+ bits>:<fencing token>",
//	            expiring after Options.Lease unless renewed
//	P fence:T   the key's fencing counter (INCR), expiring after
//	            2×Lease+ResultTTL, extended by each renewal; created from
//	            the server clock in microseconds, so it only ever grows
//	P result:T  the last result: "<fencing token>:<flags>:<len(Err)>:<Err><Payload>",
//	            expiring after Options.ResultTTL
//	P done:T    the pub/sub channel on which results are announced; the
//	            messages ("result:<fencing token>", "released:<fencing
//	            token>") only wake waiters, who then look in Redis
//
// Four Lua scripts act on a key's three keys atomically:
//
//   - claim: if asked to, return a stored result whose fencing token is at
//     least a given one; else, if a lease exists, return its value; else
//     INCR the counter and SET the lease (NX in effect, PX Lease) to the
//     random token and the new fencing token.
//   - renew: PEXPIRE the lease (and the counter) if it still holds the
//     leader's value.
//   - finish: if the counter still equals the leader's fencing token (no
//     newer lease was taken), SET the result with PX ResultTTL; delete the
//     lease if it still holds the leader's value; PUBLISH on the done
//     channel if the result was stored.
//   - release: delete the lease if it still holds the leader's value, and
//     PUBLISH on the done channel.
//
// Do runs claim without looking at results (a new flight never reads an
// old one). If it gets the lease, it leads: a goroutine renews the lease
// every Options.RenewEvery while fetch runs; then finish publishes fetch's
// Result and drops the lease. If fetch failed because Do's ctx ended, the
// leader publishes nothing and runs release instead, so that a waiter takes
// over at once.
//
// Otherwise Do waits for the flight whose lease it saw, of fencing token F.
// It subscribes to the done channel first and waits for Redis to confirm the
// subscription, then runs claim asking for a result of token ≥ F: a result
// stored in between is found there, and later ones are announced. It runs
// claim again on every announcement and every Lease/10 (at least 50ms, at
// most 1s). When claim finds the lease gone and no result (the leader died
// or gave up), it takes the lease, and the waiter leads. Because finish
// stores the result and drops the lease in one step, a missing lease always
// means the result, if any, is already stored, and claim looks for the
// result first: no waiter fetches after a leader that succeeded.
//
// # Guarantees
//
//   - One fetch per key at a time across every process, as long as the
//     leader renews its lease: a leader that cannot reach Redis for a whole
//     Lease (a partition, a long pause) loses it, and a second fetch may
//     start.
//   - Fencing: only the holder of the newest fencing token publishes, and a
//     waiter accepts only a result of at least the token of the lease it
//     waited on. A leader that lost its lease still returns its Result to
//     its own caller but never overwrites a newer flight's result, and no
//     waiter receives an older flight's.
//   - Fetch's Result goes back to the leader's caller unchanged, whatever
//     happens in Redis afterwards: failures to renew, publish or release
//     are not reported in its place.
//   - Goroutines: a leader's renewal goroutine ends before Do returns. One
//     goroutine per Coordinator receives pub/sub messages for every wait
//     over one connection, from the first wait until Close. On a
//     *redis.Ring, whose shards do not share messages, each wait has its own
//     connection to its key's shard instead, and its goroutine ends with the
//     wait.
//
// # Redis Cluster
//
// Each name carries the key as a hash tag, so a key's lease, counter and
// result share a slot and the scripts are Cluster-safe; different keys
// spread over the cluster. Prefix may not contain braces, since a brace
// there would change the tag. A key starting with '}' would make an empty
// tag, which Redis ignores; such keys get the tag "{\x00}" (before the key)
// instead, which valid keys cannot produce. Announcements use classic
// PUBLISH, which a Cluster delivers to every node, so the shared
// subscription may sit on any node; the cost of a message grows with the
// number of nodes, which is why a message carries no result. Scripts run
// with EVALSHA (EVAL when not cached); the package is tested on Redis 7.
//
// # Failure modes
//
//   - Redis unreachable: Do returns an error, as leader before fetching,
//     or as waiter; the caller decides whether to fetch uncoordinated.
//   - A leader dies (crash, kill): its lease expires at most Lease after its
//     last renewal, and one waiter takes over. Choose Lease as a compromise
//     between that delay and the pauses a live leader must survive.
//   - A leader's finish fails: its waiters see no result, and one of them
//     fetches again once the lease expires.
//   - A pub/sub message is lost (for instance during a reconnection): the
//     waiter finds the result at its next lease check, at most a second
//     later.
//   - A live leader outlasts Options.WaitTimeout: its waiters give up with a
//     *WaitTimeoutError rather than fetch in parallel.
//   - A Result larger than Options.MaxResultBytes is not transferred: the
//     leader stores a marker and each waiter runs its own fetch.
//   - fetch panics: waiters receive a Result whose Err says so, and the
//     panic continues in the leader's caller.
//
// Leases expire by the Redis server's clock; no two hosts' clocks are ever
// compared.
//
// # Many keys
//
// DoMany (cache.BulkCoordinator, for GetMany) runs the same protocol for
// each key with one fetch: it claims every key's lease, in one pipeline;
// calls fetch once for the keys whose lease it took, renewing and
// finishing each lease as Do does; and waits, concurrently, for the others,
// taking over a key whose leader disappeared and fetching it alone. The
// finishes go in one pipeline too; each lease is renewed on its own.
package redisflight
