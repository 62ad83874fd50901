// Package redistags is a cache.TagIndex kept in Redis and shared by every
// instance that uses the same Redis and Options.Prefix, so that
// InvalidateTag on one instance finds the keys that any instance wrote. It
// works on a standalone server, behind Sentinel, on Redis Cluster and on a
// client-side sharded redis.Ring. It needs Redis 6.2 or later (ZMSCORE).
//
// # Layout
//
// Every Redis key the index creates starts with Options.Prefix (P below).
// Each cache key belongs to one of Options.Shards shards, chosen by a hash
// of the key, and is filed under that shard in every one of its tags:
//
//	P k:<key>                 set: the tags the key carries (its record)
//	P t:{<shard>:<tag>}:m     sorted set: the keys of the tag in that shard,
//	                          all with score 0, walked in byte order
//	P t:{<shard>:<tag>}:e     sorted set: the same keys, scored by expiry
//
// Expiry scores are Unix milliseconds, rounded up; an association that never
// expires has score 2^53. The braces are a Cluster hash tag: a tag's two sets
// in one shard always share a slot, so every script below touches one slot
// only, and a large tag is spread over Shards slots (and so over the
// Cluster's nodes) rather than held in one set. No Redis key grows with the
// number of tags or of keys in the whole index: there is no set of all keys.
//
// # Expiry
//
// The index reads time from Options.Clock (the instances' clocks, like the
// cache entries' deadlines) to decide which associations have expired:
// those are never reported, and Track and Keys remove a bounded number of
// them from every tag set they touch. Redis expiry cleans up the rest: a
// record expires Options.ExpiryGrace after its key's deadline, and a tag's
// two sets expire ExpiryGrace after the latest deadline among their members
// (they persist while one member never expires), so a tag that is no
// longer written does not stay in Redis. The grace absorbs clock skew
// between the instances and Redis: with more skew than ExpiryGrace, Redis
// may remove an association before its deadline, and Keys then misses it.
//
// # Atomicity
//
// With Mode ModeAtomic (the default for a *redis.Client, which is also what
// a Sentinel failover client is), each Track and each key of an Untrack is
// one Lua script that checks the key's record, moves the key between the tag
// sets and rewrites the record, so no other client sees it half-retagged and
// concurrent retags of one key cannot interleave. The script is sent with
// EVALSHA (EVAL when the server lacks it) and declares every key it touches;
// it is optimistic: it is given the tags the caller believes the key has and
// answers with the real ones when they differ, and the call is retried, up to
// 16 times (then ErrContended). A Track whose tags did not change is one
// round trip.
//
// With ModePerSlot (the default for a *redis.ClusterClient, a *redis.Ring and
// any other client) every script and command touches one slot, as Cluster
// requires, and a Track or Untrack is a sequence of them and is NOT atomic.
// Track first adds the key to its tags' sets, then rewrites its record and
// removes it from the tags it no longer carries; Untrack removes the key from
// its tags' sets, then deletes its record. A failure part-way can leave the
// key filed under a tag it no longer carries (Keys then reports it: one
// needless invalidation), which lasts until the association's deadline. Two
// instances retagging the same key at the same moment can also leave it
// missing from a tag it carries, until it is tracked again; the Stack
// tracks a key when it writes it, so this needs two concurrent writes of one
// key with different tags.
//
// Keys is never atomic: it walks each tag's sets in pages of the batch size
// (see Index.Keys).
//
// # Concurrency and memory
//
// An Index holds no mutable state and is safe for concurrent use; it never
// holds a lock while calling Keys' fn, which may call back into the Index.
// Memory on the client is bounded by the batch size in Keys, by the number
// of tags of one key in Track, and by 256 keys per pipeline in Untrack; no
// command reads a whole set. Clear walks the prefix with SCAN and deletes
// with UNLINK, in batches. The index never closes the client it was given.
package redistags
