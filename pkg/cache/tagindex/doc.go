// Package tagindex is the in-process cache.TagIndex, the default one: it
// remembers which tags each key carries in this process only, so
// InvalidateTag finds the keys this process wrote (use pkg/cache/redistags to
// share one index between instances).
//
// Contract:
//
//   - An Index is safe for concurrent use. One sync.RWMutex guards it;
//     Track, Untrack and Clear take it exclusively, Keys shares it while it
//     copies the matching keys and releases it before calling fn, so fn may
//     call back into the Index (Untrack, Track) without deadlock.
//   - Every operation is atomic: Keys sees each key either before or after a
//     concurrent Track of it, never half-retagged. Keys reports the keys
//     that matched when it took its copy; keys tracked after that are not
//     reported, and keys untracked after that still are.
//   - Memory is bounded by Options.MaxKeys keys, each with the tags it was
//     last tracked with (the Stack allows at most cache.MaxTags per entry),
//     plus, during Keys, a copy of the matching keys (string headers, not
//     bytes). When the bound is exceeded the associations that expire
//     soonest are dropped and counted by Dropped: an invalidation can then
//     miss those keys.
//   - Expired associations are never reported. They are removed lazily, a
//     bounded number per Track and per Keys, and whenever the bound is
//     exceeded (they are the first to go); there is no background goroutine
//     and nothing to close.
//   - Track keeps the key string and copies the tags; Keys hands fn slices
//     that fn owns and may keep.
//
// Operations never block on I/O and ignore their context, except Keys, which
// stops between batches when it ends.
package tagindex
