package bench

import (
	"context"
	"fmt"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/codec"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/rediscache"
)

// layercacheCache is a Stack: the memory layer, then Redis when
// configured, with the MessagePack codec (a []byte costs a 2- or 3-byte
// header) and no compression.
type layercacheCache struct {
	s *cache.Stack
	v *cache.View[[]byte]
}

func newLayercache(c Config) (Cache, error) {
	mem, err := memory.New(memory.Options{MaxEntries: c.Capacity})
	if err != nil {
		return nil, fmt.Errorf("layercache: %w", err)
	}
	layers := []cache.Layer{mem}
	if c.Redis != nil {
		l2, err := rediscache.New(rediscache.Options{Client: c.Redis, Prefix: c.Prefix})
		if err != nil {
			return nil, fmt.Errorf("layercache: %w", err)
		}
		layers = append(layers, l2)
	}
	s, err := cache.New(context.Background(), layers, cache.Options{TTL: c.TTL, Codec: codec.MessagePack{}})
	if err != nil {
		return nil, fmt.Errorf("layercache: %w", err)
	}
	// WithLoader: the idiomatic zero-allocation read-through (a loader told
	// the key, instead of a closure per Get).
	return &layercacheCache{s: s, v: cache.Typed[[]byte](s).WithLoader(cache.Loader[[]byte](c.Load))}, nil
}

func (l *layercacheCache) Get(ctx context.Context, key string) ([]byte, error) {
	return l.v.Load(ctx, key)
}

func (l *layercacheCache) Set(ctx context.Context, key string, v []byte) error {
	return l.v.Set(ctx, key, v)
}

func (l *layercacheCache) Close() error { return l.s.Close(context.Background()) }
