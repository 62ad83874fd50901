package rediscache

import "errors"

// ErrNoPrefix is wrapped by the error Clear returns when Options.Prefix is
// empty: without a prefix the layer cannot tell its keys from anyone
// else's, and it will not delete the whole database.
var ErrNoPrefix = errors.New("redis layer: clear needs Options.Prefix; refusing to delete every key in the database")

// ErrShardsDown is wrapped by the error Scan and Clear return on a
// *redis.Ring when shards the ring was created with (RingOptions.Addrs) are
// marked down: the ring cannot reach their keys, so a scan would be
// incomplete and a clear would leave keys to be served again once the shards
// are back. (After Ring.SetAddrs removes shards, the count is still taken
// against RingOptions.Addrs, and Scan and Clear fail with this error.)
var ErrShardsDown = errors.New("redis layer: ring shards are down")
