// Package rediscache is the shared Redis layer of a cache Stack (L2), on a
// github.com/redis/go-redis/v9 UniversalClient: standalone, Sentinel
// (failover) or Cluster.
//
// Every entry is stored under Options.Prefix + key as one Redis string: the
// versioned binary envelope of cache.AppendEntry, behind the marker byte of
// package compress (compressed above a threshold when Options.Compression
// asks for it). Redis expires the key at the entry's cache.Entry.ExpiresAt
// (SET … PX). Reading never trusts what is stored: data that does not decode
// is a miss, the key is deleted and the layer's corrupt counter goes up.
//
// Bulk operations send one command per key in pipelines, never multi-key
// commands, so they work on a Cluster whatever slots the keys hash to. Scan
// and Clear use SCAN on every master of a Cluster (every shard of a Ring),
// never KEYS, FLUSHDB or FLUSHALL; on a Ring with shards down they fail with
// ErrShardsDown rather than miss those shards' keys.
//
// A Layer is safe for concurrent use. The client belongs to the caller: the
// layer never closes it, and Close does nothing. Entries returned by Get and
// GetMany may share memory with the reply they were read from; callers must
// not modify their Payload (as the cache.Entry contract says).
package rediscache
