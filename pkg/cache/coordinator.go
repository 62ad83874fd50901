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
