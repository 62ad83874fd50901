package cache

import "context"

// Coordinator extends single-flight across processes: of all the instances
// that miss the same key at once, one (the leader) runs the fetch and the
// others receive its result. pkg/cache/redisflight implements it with a
// Redis lease and pub/sub.
type Coordinator interface {
	// Do runs fetch if this instance becomes the key's leader, and hands
	// its Result to the instances waiting on the key; otherwise it waits
	// for the leader's Result. If the leader disappears (its lease
	// expires), a waiter takes over and fetches. ctx bounds the wait.
	Do(ctx context.Context, key string, fetch func(ctx context.Context) Result) (Result, error)
}

// Result is the outcome of a coordinated fetch, in a form that crosses
// process boundaries: the value encoded by the Stack's codec, a "not found",
// or the leader's error message.
type Result struct {
	Payload  []byte
	NotFound bool
	// Err is the leader's error text; non-empty means the fetch failed.
	Err string
}

// BulkCoordinator is a Coordinator that also coordinates many keys at once,
// for GetMany: with one, a GetMany's misses are fetched once across the
// fleet, in one call of the bulk fetcher per instance. pkg/cache/redisflight
// implements it. With a Coordinator that does not, GetMany shares fetches
// within its instance only.
type BulkCoordinator interface {
	Coordinator
	// DoMany is Do for many keys with one fetch: this instance leads the
	// keys nobody else is fetching and calls fetch once for them; for each
	// other key it waits for its leader's Result, and calls fetch for that
	// key alone if it takes over from a leader that disappeared. fetch
	// returns a Result per key it is given (a key it leaves out is not
	// found). DoMany returns a Result per key, and an error per key whose
	// coordination failed; every key is in one of the two.
	DoMany(ctx context.Context, keys []string, fetch func(ctx context.Context, keys []string) map[string]Result) (map[string]Result, map[string]error)
}
