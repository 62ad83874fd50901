package rediscache

import "errors"

// ErrNoPrefix is wrapped by the error Clear returns when Options.Prefix is
// empty: without a prefix the layer cannot tell its keys from anyone
// else's, and it will not delete the whole database.
var ErrNoPrefix = errors.New("redis layer: clear needs Options.Prefix; refusing to delete every key in the database")
