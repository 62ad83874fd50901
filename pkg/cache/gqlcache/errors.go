package gqlcache

import "errors"

// ErrUncached is returned by a key function to run the resolver without the
// cache for this call (an anonymous viewer, a query the key cannot
// describe).
var ErrUncached = errors.New("gqlcache: uncached")
