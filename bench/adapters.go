package bench

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Loader fetches a key's value from the origin on a miss.
type Loader func(ctx context.Context, key string) ([]byte, error)

// Config says what cache to build.
type Config struct {
	// Capacity is how many entries the in-memory part holds.
	Capacity int
	// TTL is how long entries live.
	TTL time.Duration
	// Load is called on a miss; its value is cached.
	Load Loader
	// Redis, when set, puts a Redis layer behind memory (libraries whose
	// Layered is true) or is the only store (the raw client baseline).
	Redis redis.UniversalClient
	// Prefix starts every Redis key the cache writes.
	Prefix string
}

// Cache is what every library is measured through. Implementations are
// safe for concurrent use.
type Cache interface {
	// Get returns key's value. On a miss it calls Config.Load and caches
	// the result, through the library's own read-through API where it has
	// one (with whatever de-duplication that API does), or else as its
	// users do: get, load, set.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores v under key in every layer.
	Set(ctx context.Context, key string, v []byte) error
	// Close releases what the cache holds. Some libraries leave
	// goroutines behind regardless (see the adapters).
	Close() error
}

// Waiter is implemented by caches whose writes land in the background
// (ristretto's buffered sets): Wait returns once the writes made so far
// have been applied, or dropped. Benchmarks never call it.
type Waiter interface {
	Wait()
}

// Library is one cache library and how to build it.
type Library struct {
	// Name identifies the library in benchmark names.
	Name string
	// Memory: it can run as an in-process cache alone.
	Memory bool
	// Layered: it can put Redis behind its in-process cache.
	Layered bool
	// RedisOnly: it needs Config.Redis and has no memory layer (the raw
	// client baseline).
	RedisOnly bool
	// New builds the cache.
	New func(c Config) (Cache, error)
}

// Libraries returns every library the benchmarks compare, layercache first.
func Libraries() []Library {
	return []Library{
		{Name: "layercache", Memory: true, Layered: true, New: newLayercache},
		{Name: "otter", Memory: true, New: newOtter},
		{Name: "ristretto", Memory: true, New: newRistretto},
		{Name: "sturdyc", Memory: true, New: newSturdyc},
		{Name: "gocache", Memory: true, Layered: true, New: newGocache},
		{Name: "go-redis-cache", Memory: true, Layered: true, New: newGoRedisCache},
		{Name: "go-redis", RedisOnly: true, New: newRawRedis},
	}
}
