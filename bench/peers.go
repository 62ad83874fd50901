package bench

import (
	"context"
	"errors"
	"fmt"

	ristrettov1 "github.com/dgraph-io/ristretto"
	"github.com/dgraph-io/ristretto/v2"
	gocache "github.com/eko/gocache/lib/v4/cache"
	gostore "github.com/eko/gocache/lib/v4/store"
	redisstore "github.com/eko/gocache/store/redis/v4"
	ristrettostore "github.com/eko/gocache/store/ristretto/v4"
	rcache "github.com/go-redis/cache/v9"
	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
	"github.com/viccon/sturdyc"
)

// otterCache is a raw otter v2 cache read through its loader API (Get,
// which de-duplicates concurrent loads of a key).
type otterCache struct {
	c    *otter.Cache[string, []byte]
	load otter.LoaderFunc[string, []byte]
}

func newOtter(c Config) (Cache, error) {
	oc, err := otter.New(&otter.Options[string, []byte]{
		MaximumSize:      c.Capacity,
		ExpiryCalculator: otter.ExpiryWriting[string, []byte](c.TTL),
	})
	if err != nil {
		return nil, fmt.Errorf("otter: %w", err)
	}
	return &otterCache{c: oc, load: otter.LoaderFunc[string, []byte](c.Load)}, nil
}

func (o *otterCache) Get(ctx context.Context, key string) ([]byte, error) {
	return o.c.Get(ctx, key, o.load)
}

func (o *otterCache) Set(_ context.Context, key string, v []byte) error {
	o.c.Set(key, v)
	return nil
}

func (o *otterCache) Close() error {
	o.c.StopAllGoroutines()
	return nil
}

// ristrettoCache is ristretto v2, which has no loader: a miss loads and
// sets (cost 1 per entry, internal cost ignored), with no de-duplication.
// Its Set is asynchronous and may be dropped, as in production.
type ristrettoCache struct {
	c    *ristretto.Cache[string, []byte]
	cfg  Config
	load Loader
}

func newRistretto(c Config) (Cache, error) {
	rc, err := ristretto.NewCache(&ristretto.Config[string, []byte]{
		NumCounters:        int64(10 * c.Capacity), // ristretto's advice: 10x the entries
		MaxCost:            int64(c.Capacity),
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, fmt.Errorf("ristretto: %w", err)
	}
	return &ristrettoCache{c: rc, cfg: c, load: c.Load}, nil
}

func (r *ristrettoCache) Get(ctx context.Context, key string) ([]byte, error) {
	if v, ok := r.c.Get(key); ok {
		return v, nil
	}
	v, err := r.load(ctx, key)
	if err != nil {
		return nil, err
	}
	r.c.SetWithTTL(key, v, 1, r.cfg.TTL)
	return v, nil
}

func (r *ristrettoCache) Set(_ context.Context, key string, v []byte) error {
	r.c.SetWithTTL(key, v, 1, r.cfg.TTL)
	return nil
}

// Wait waits for the buffered sets.
func (r *ristrettoCache) Wait() { r.c.Wait() }

func (r *ristrettoCache) Close() error {
	r.c.Close()
	return nil
}

// sturdycCache is a sturdyc client read with GetOrFetch (de-duplicated),
// 10 shards, evicting 10% of a full shard. Continuous expiry sweeps are off
// (they start a goroutine that never exits; the TTL outlives the runs).
type sturdycCache struct {
	c    *sturdyc.Client[[]byte]
	load Loader
}

func newSturdyc(c Config) (Cache, error) {
	shards := 10
	if c.Capacity < shards {
		shards = 1
	}
	return &sturdycCache{
		c:    sturdyc.New[[]byte](c.Capacity, shards, c.TTL, 10, sturdyc.WithNoContinuousEvictions()),
		load: c.Load,
	}, nil
}

func (s *sturdycCache) Get(ctx context.Context, key string) ([]byte, error) {
	return s.c.GetOrFetch(ctx, key, func(ctx context.Context) ([]byte, error) { return s.load(ctx, key) })
}

func (s *sturdycCache) Set(_ context.Context, key string, v []byte) error {
	s.c.Set(key, v)
	return nil
}

func (s *sturdycCache) Close() error { return nil }

// gocacheCache is eko/gocache v4: a LoadableCache (singleflight, values
// stored by a background setter) over a ristretto (v1) store, or over a
// ChainCache of ristretto then Redis. Its Redis store returns strings, so
// the cache holds strings. The ChainCache's setter goroutine has no way to
// stop.
type gocacheCache struct {
	l      *gocache.LoadableCache[string]
	rc     *ristrettov1.Cache
	prefix string
}

func newGocache(c Config) (Cache, error) {
	rc, err := ristrettov1.NewCache(&ristrettov1.Config{
		NumCounters:        int64(10 * c.Capacity),
		MaxCost:            int64(c.Capacity),
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, fmt.Errorf("gocache: %w", err)
	}
	opts := []gostore.Option{gostore.WithCost(1), gostore.WithExpiration(c.TTL)}
	l1 := gocache.New[string](ristrettostore.NewRistretto(rc, opts...))
	var main gocache.CacheInterface[string] = l1
	if c.Redis != nil {
		l2 := gocache.New[string](redisstore.NewRedis(c.Redis, gostore.WithExpiration(c.TTL)))
		main = gocache.NewChain[string](l1, l2)
	}
	load := func(ctx context.Context, key any) (string, []gostore.Option, error) {
		k, ok := key.(string)
		if !ok {
			return "", nil, fmt.Errorf("gocache: key %v is not a string", key)
		}
		v, err := c.Load(ctx, k[len(c.Prefix):])
		return string(v), nil, err
	}
	return &gocacheCache{l: gocache.NewLoadable[string](load, main), rc: rc, prefix: c.Prefix}, nil
}

func (g *gocacheCache) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := g.l.Get(ctx, g.prefix+key)
	return []byte(v), err
}

func (g *gocacheCache) Set(ctx context.Context, key string, v []byte) error {
	return g.l.Set(ctx, g.prefix+key, string(v))
}

// Wait waits for the ristretto store's buffered sets (not for the values
// the LoadableCache's setter goroutine has yet to store).
func (g *gocacheCache) Wait() { g.rc.Wait() }

func (g *gocacheCache) Close() error { return g.l.Close() }

// goRedisCache is go-redis/cache v9: a local TinyLFU in front of Redis (or
// alone), read with Once (singleflight). []byte values are stored as is.
type goRedisCache struct {
	c    *rcache.Cache
	cfg  Config
	load Loader
}

func newGoRedisCache(c Config) (Cache, error) {
	opts := &rcache.Options{LocalCache: rcache.NewTinyLFU(c.Capacity, c.TTL)}
	if c.Redis != nil {
		opts.Redis = c.Redis
	}
	return &goRedisCache{c: rcache.New(opts), cfg: c, load: c.Load}, nil
}

func (g *goRedisCache) Get(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := g.c.Once(&rcache.Item{
		Ctx:   ctx,
		Key:   g.cfg.Prefix + key,
		Value: &v,
		TTL:   g.cfg.TTL,
		Do:    func(it *rcache.Item) (any, error) { return g.load(it.Context(), key) },
	})
	return v, err
}

func (g *goRedisCache) Set(ctx context.Context, key string, v []byte) error {
	return g.c.Set(&rcache.Item{Ctx: ctx, Key: g.cfg.Prefix + key, Value: v, TTL: g.cfg.TTL})
}

func (g *goRedisCache) Close() error { return nil }

// rawRedis is the baseline for the L2 path: a plain go-redis GET, and on a
// miss a load and a SET. No memory layer, no encoding.
type rawRedis struct {
	cfg Config
}

func newRawRedis(c Config) (Cache, error) {
	if c.Redis == nil {
		return nil, errors.New("go-redis: Config.Redis is required")
	}
	return &rawRedis{cfg: c}, nil
}

func (r *rawRedis) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := r.cfg.Redis.Get(ctx, r.cfg.Prefix+key).Bytes()
	if !errors.Is(err, redis.Nil) {
		return v, err
	}
	if v, err = r.cfg.Load(ctx, key); err != nil {
		return nil, err
	}
	return v, r.cfg.Redis.Set(ctx, r.cfg.Prefix+key, v, r.cfg.TTL).Err()
}

func (r *rawRedis) Set(ctx context.Context, key string, v []byte) error {
	return r.cfg.Redis.Set(ctx, r.cfg.Prefix+key, v, r.cfg.TTL).Err()
}

func (r *rawRedis) Close() error { return nil }
