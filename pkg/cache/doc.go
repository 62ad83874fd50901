// Package cache is a multi-layer cache engine: one API over an ordered stack
// of layers (in-process memory, shared Redis, local disk, or any type that
// implements [Layer]).
//
// A [Stack] reads layers in order, returns the first usable entry and
// backfills the faster layers with the remaining TTL. Writes go to every
// layer. Misses are resolved by a fetcher guarded by per-key single-flight, so
// N concurrent callers of a cold key cause exactly one fetch; a caller that
// gives up (its context ends) never cancels a fetch other callers still wait
// on.
//
// Values are typed through generic views:
//
//	users := cache.Typed[User](stack)
//	u, err := users.Get(ctx, "user:123", func(ctx context.Context) (User, error) {
//		return db.FindUser(ctx, 123)
//	}, cache.WithTTL(5*time.Minute))
//
// Every method of Stack and View is safe for concurrent use.
package cache
