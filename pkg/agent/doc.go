// Package agent is the layercache agent as a library: a cache engine
// (pkg/cache) built from a policy document, served to applications over a
// localhost data API and to the operator over an authenticated admin API,
// with probes and Prometheus metrics. cmd/agent is this package plus flags;
// a Go service can embed it instead, so that its own cache joins the fleet
// the operator manages.
//
//	a, err := agent.New(agent.Options{BootstrapFile: "/etc/layercache/policy.json", AdminTLS: tlsConfig})
//	if err != nil { ... }
//	err = a.Start(ctx) // serves until ctx ends, then shuts down
//
// # Servers
//
// Start runs three HTTP servers until its context ends: the data API
// (default 127.0.0.1:7070, plain HTTP, for the application in the pod), the
// admin API (default 0.0.0.0:7443, TLS with a verified client certificate
// required; plain HTTP only with Options.InsecureAdmin) and the probes and
// metrics (default 0.0.0.0:7080, plain HTTP). Paths, ports and the JSON
// types are in package agentapi.
//
// # Policies
//
// The cache is built from an agentapi.Policy: the bootstrap file at New (so
// a restarted agent serves while the operator is down), then each policy
// PUT to the admin API. Applying is idempotent by hash, refuses an older
// generation (409) and an invalid or unbuildable policy (422), keeping the
// applied one. A new policy builds a new cache.Stack and swaps it in
// atomically; requests already running finish on the old Stack, which is
// closed when they have. What is carried over (see PolicyResult.Kept):
//
//   - the memory layer instance, with its entries, when
//     layers.memory.maxEntries and maxBytes are unchanged (TTLs, freshness,
//     origins, warming, Redis and disk changes all keep it). Kept entries
//     keep the deadlines they were written with; new writes use the new
//     TTLs;
//   - the disk layer instance when layers.disk.dir and maxBytes are
//     unchanged. Changing maxBytes at the same dir closes the old layer
//     before opening the new one: that apply waits for the requests running
//     on the old Stack to finish and holds new requests meanwhile;
//   - the Redis client (its connection pool) when addr, username,
//     passwordFile and db are unchanged, and the Redis breaker (with its
//     state) when layers.redis.breaker is unchanged too;
//   - the in-process tag index of the local tiers, always;
//   - the invalidation log (applied uids and watermark) and the snapshot
//     log, always: they belong to the agent, not to a policy.
//
// Everything else (the Stack and its counters, the Redis layer wrapper, the
// Redis tag index, the bus subscription, origins) is rebuilt.
//
// # Invalidations
//
// POST /v1/invalidations/{uid} is idempotent by uid (the last 10,000 are
// remembered with their results) and runs one at a time. Its layers say
// where: "all" goes through the Stack (every tier, fenced against fetches
// in flight, published on the bus); "local" purges only memory and disk,
// through the Stack's bus handler (fenced, not published), finding tagged
// keys in the agent's tag index and in the memory tier's own entries;
// "shared" purges only Redis, directly (keys from Redis scans and the
// shared tag index). The operator runs "shared" once and "local" on every
// pod. Status.LastInvalidationSeq is the watermark: the highest seq S such
// that every seq from 1 to S was applied with "local" or "all" (a target
// "all" covers every seq before its own). A seq applied above a gap is
// remembered, and the watermark passes it once the gap is filled, so the
// operator never takes an agent with a hole for current. With a disk tier
// the watermark is stored next to the records and survives restarts.
// Sequences number one CachePolicy's invalidations: the watermark counts
// those of the applied policy's uid (Status.PolicyUID), starts again at 0
// when a policy of another uid is applied (a deleted and re-created
// CachePolicy numbers from 1 again), and a request naming another policy
// (InvalidationRequest.PolicyUID) is applied without counting.
//
// An agent whose policy names a warming snapshot loads it at start when its
// local tiers are empty, and takes the snapshot's watermark. It is then not
// ready (Status.AwaitingSync) until the operator, having replayed what came
// after the snapshot, confirms with POST /v1/sync that the watermark has
// reached the policy's last sequence, or until the warming timeout passes.
//
// # Snapshots
//
// POST /v1/snapshots/{uid} writes <snapshots.dir>/<uid>.lcs with the
// current watermark (idempotent by uid for this process); DELETE
// /v1/snapshots/{uid} removes that file, answering 200 with removed false
// when there is none. Both run one at a time with invalidations, so a
// delete that arrives during the write of its uid removes the finished
// file. The operator deletes the file when its CacheSnapshot is deleted.
// Taking a snapshot also removes the temporary files that writes killed
// midway left in the directory, once they are an hour old.
//
// # Data API
//
// GET /v1/keys/{key} answers the raw JSON value with X-Cache HIT, MISS
// (loaded from an origin during the call) or STALE (the memory tier holds
// a stale entry). The header is best effort: it is decided after the read
// from a striped counter of origin loads and the memory tier's entry, so a
// concurrent load of another key can make a hit read MISS.
//
// # Concurrency
//
// An Agent is safe for concurrent use. Start may be called once.
package agent
