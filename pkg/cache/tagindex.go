package cache

import "context"

// TagIndex maps tags to the keys that carry them, so InvalidateTag can find
// the keys to remove. Keys are qualified keys (namespace prefix included).
//
// Implementations: pkg/cache/tagindex (in-process, the default) and
// pkg/cache/redistags (shared by every instance through Redis). They must be
// safe for concurrent use.
type TagIndex interface {
	// Track records that key carries exactly tags, replacing the tags it
	// had before (an empty tags removes the key from the index). The
	// association expires at expiresAt (Unix nanoseconds; 0: never), so an
	// entry that expires on its own does not stay in the index forever.
	Track(ctx context.Context, key string, tags []string, expiresAt int64) error
	// Untrack removes keys and their associations.
	Untrack(ctx context.Context, keys []string) error
	// Keys calls fn with the keys that carry the tags — any of them, or all
	// of them when all is true — in batches of at most batch keys, until fn
	// returns an error, which Keys then returns. Keys whose association
	// expired are not reported. Implementations must not hold locks while
	// calling fn: it calls back into the cache, which calls Untrack.
	//
	// (all is a bool rather than TagMatch so that implementations need not
	// import this package, which lets the Stack use pkg/cache/tagindex as its
	// default.)
	Keys(ctx context.Context, tags []string, all bool, batch int, fn func(keys []string) error) error
	// Clear removes every association.
	Clear(ctx context.Context) error
}

// TagMatch says how InvalidateTags combines its tags.
type TagMatch uint8

const (
	// MatchAny selects keys that carry at least one of the tags.
	MatchAny TagMatch = iota
	// MatchAll selects keys that carry every one of the tags.
	MatchAll
)
