// Package redisgen stores a cache Stack's generation in Redis, so that every
// instance sharing the Redis agrees on it (see cache.Generations). A Store is
// safe for concurrent use; it keeps no state besides its options.
package redisgen

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// DefaultKey is the Redis key used when Options.Key is empty.
const DefaultKey = "layercache:generation"

// Options configures a Store.
type Options struct {
	// Client is the Redis connection. It belongs to the caller.
	//
	// default: none (required)
	Client redis.UniversalClient
	// Key holds the generation as a decimal integer.
	//
	// default: "layercache:generation"
	Key string
}

// Store is a cache.GenerationStore on Redis.
type Store struct {
	client redis.UniversalClient
	key    string
}

// New returns a Store. It does no I/O.
func New(opts Options) (*Store, error) {
	if opts.Client == nil {
		return nil, errors.New("redisgen: Options.Client is required")
	}
	key := opts.Key
	if key == "" {
		key = DefaultKey
	}
	return &Store{client: opts.Client, key: key}, nil
}

// Load returns the stored generation, or 0 when none is stored. A value that
// is not a non-negative integer is an error: it is never guessed at.
func (s *Store) Load(ctx context.Context) (uint64, error) {
	v, err := s.client.Get(ctx, s.key).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redisgen: get %q: %w", s.key, err)
	}
	g, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("redisgen: key %q holds %.32q, not a generation: %w", s.key, v, err)
	}
	return g, nil
}

// Bump increments the generation with INCR (atomic across instances) and
// returns the new value.
func (s *Store) Bump(ctx context.Context) (uint64, error) {
	g, err := s.client.Incr(ctx, s.key).Result()
	if err != nil {
		return 0, fmt.Errorf("redisgen: incr %q: %w", s.key, err)
	}
	if g < 0 {
		return 0, fmt.Errorf("redisgen: key %q went negative (%d)", s.key, g)
	}
	return uint64(g), nil
}
