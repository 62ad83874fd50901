package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/breaker"
	"github.com/layercache/layercache/pkg/cache/compress"
	"github.com/layercache/layercache/pkg/cache/disk"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/redisbus"
	"github.com/layercache/layercache/pkg/cache/rediscache"
	"github.com/layercache/layercache/pkg/cache/redistags"
)

// BuildError is returned when a valid policy cannot be built: a layer fails
// to open, a secret file cannot be read. Field is the policy field at
// fault. The agent answers it with 422 and keeps the applied policy.
type BuildError struct {
	Field string
	Err   error
}

func (e *BuildError) Error() string { return fmt.Sprintf("agent: %s: %v", e.Field, e.Err) }

func (e *BuildError) Unwrap() error { return e.Err }

// build makes the runtime of policy p, carrying over the parts of prev
// (nil at start) whose configuration p leaves unchanged (see the package
// documentation), and returns the names of the parts it kept. On failure
// it releases what it acquired; prev is untouched either way.
func (a *Agent) build(ctx context.Context, p agentapi.Policy, prev *runtime) (_ *runtime, kept []string, err error) {
	rt := &runtime{policy: p, names: map[string]layerRole{}, localTags: a.localTags}
	rt.generation.Store(p.Generation)
	defer func() {
		if err != nil {
			_ = rt.close(context.WithoutCancel(ctx)) // the build error is what matters
		}
	}()
	if rt.origins, err = compileOrigins(p.Origins, a.client, a.opts.MaxValueBytes, a.marks); err != nil {
		return nil, nil, &BuildError{Field: "origins", Err: err}
	}
	var prevPolicy *agentapi.Policy
	if prev != nil {
		prevPolicy = &prev.policy
	}
	if prevPolicy != nil && sameMemory(prevPolicy.Layers.Memory, p.Layers.Memory) {
		rt.memory = prev.memory.retain()
		kept = append(kept, "memory")
	} else {
		m := p.Layers.Memory
		l, err := memory.New(memory.Options{Name: memoryName, MaxEntries: m.MaxEntries, MaxBytes: m.MaxBytes})
		if err != nil {
			return nil, nil, &BuildError{Field: "layers.memory", Err: err}
		}
		rt.memory = newResource(l, l.Close)
	}
	layers := []cache.Layer{borrowed{rt.memory.v}}
	rt.names[memoryName] = layerRole{}
	if r := p.Layers.Redis; r != nil {
		remote, k, err := a.buildRedis(rt, r, prev)
		if err != nil {
			return nil, nil, err
		}
		layers = append(layers, remote)
		kept = append(kept, k...)
	}
	if d := p.Layers.Disk; d != nil {
		if prev != nil && prev.disk != nil && sameDisk(prevPolicy.Layers.Disk, d) {
			rt.disk = prev.disk.retain()
			kept = append(kept, "disk")
		} else if rt.disk, err = a.openDisk(ctx, d, p.UID); err != nil {
			return nil, nil, err
		}
		layers = append(layers, borrowed{rt.disk.v})
		rt.names[diskName] = layerRole{}
	}
	rt.bus = &localBus{}
	if b := p.Bus; b != nil {
		if rt.bus.inner, err = a.openBus(rt, p.Layers.Redis, b); err != nil {
			return nil, nil, err
		}
	}
	tags := tagIndexes{local: a.localTags, shared: rt.shared, sharedFailed: a.sharedTagFailed}
	stack, err := cache.New(ctx, layers, stackOptions(p, tags, rt.bus, a.opts.MaxValueBytes))
	if err != nil {
		return nil, nil, &BuildError{Field: "layers", Err: err}
	}
	rt.stack, rt.view = stack, cache.Typed[json.RawMessage](stack)
	return rt, kept, nil
}

func stackOptions(p agentapi.Policy, tags cache.TagIndex, bus cache.InvalidationBus, maxValue int64) cache.Options {
	fr := p.Freshness
	o := cache.Options{
		TTL:                  fr.TTL.Std(),
		StaleWhileRevalidate: fr.StaleWhileRevalidate.Std(),
		StaleIfError:         fr.StaleIfError.Std(),
		NegativeTTL:          fr.NegativeTTL.Std(),
		TTLJitter:            fr.Jitter.Std(),
		TagIndex:             tags,
		Bus:                  bus,
		MaxValueBytes:        int(maxValue),
		// A failing Redis is skipped for a while and a write that reached
		// some tier succeeds: the application keeps a working cache.
		DegradeFor:  DefaultDegradeFor,
		WritePolicy: cache.WriteBestEffort,
	}
	layerTTL := map[string]agentapi.Duration{memoryName: p.Layers.Memory.TTL}
	if r := p.Layers.Redis; r != nil {
		layerTTL[redisName] = r.TTL
	}
	if d := p.Layers.Disk; d != nil {
		layerTTL[diskName] = d.TTL
	}
	for name, ttl := range layerTTL {
		if ttl > 0 {
			if o.Layers == nil {
				o.Layers = map[string]cache.LayerOptions{}
			}
			d := ttl.Std()
			o.Layers[name] = cache.LayerOptions{TTL: &d}
		}
	}
	return o
}

func sameMemory(a, b agentapi.MemoryLayer) bool {
	return a.MaxEntries == b.MaxEntries && a.MaxBytes == b.MaxBytes
}

func sameDisk(a, b *agentapi.DiskLayer) bool {
	return a != nil && b != nil && a.Dir == b.Dir && a.MaxBytes == b.MaxBytes
}

func sameRedisClient(a, b *agentapi.RedisLayer) bool {
	return a != nil && b != nil && a.Addr == b.Addr && a.Username == b.Username &&
		a.PasswordFile == b.PasswordFile && a.DB == b.DB
}

// buildRedis sets up the Redis tier of rt: client (kept from prev when its
// settings are unchanged), layer, breaker and shared tag index. It returns
// the layer as the Stack must see it.
func (a *Agent) buildRedis(rt *runtime, r *agentapi.RedisLayer, prev *runtime) (cache.Layer, []string, error) {
	var kept []string
	var prevRedis *agentapi.RedisLayer
	if prev != nil {
		prevRedis = prev.policy.Layers.Redis
	}
	sameClient := prev != nil && prev.client != nil && sameRedisClient(prevRedis, r)
	if sameClient {
		rt.client = prev.client.retain()
		kept = append(kept, "redis-client")
	} else {
		c, err := newRedisClient(r)
		if err != nil {
			return nil, nil, err
		}
		rt.client = newResource(c, c.Close)
	}
	algo, err := compress.ParseAlgorithm(r.Compression)
	if err != nil {
		return nil, nil, &BuildError{Field: "layers.redis.compression", Err: err}
	}
	l, err := rediscache.New(rediscache.Options{Client: rt.client.v, Name: redisName, Prefix: r.Prefix,
		Compression: compress.Options{Algorithm: algo}})
	if err != nil {
		return nil, nil, &BuildError{Field: "layers.redis", Err: err}
	}
	rt.names[redisName] = layerRole{shared: true, breaker: r.Breaker != nil}
	rt.remote = l
	if b := r.Breaker; b != nil {
		// The breaker's state is about the server: it is kept only with
		// the client.
		if sameClient && prev.brk != nil && prevRedis.Breaker != nil && *prevRedis.Breaker == *b {
			rt.brk = prev.brk
			kept = append(kept, "redis-breaker")
		} else {
			rt.brk, err = breaker.New(breaker.Options{ConsecutiveFailures: b.ConsecutiveFailures,
				FailureRatio: b.FailureRatio, MinRequests: b.MinRequests, OpenFor: b.OpenFor.Std(),
				HalfOpenProbes: b.HalfOpenProbes})
			if err != nil {
				return nil, nil, &BuildError{Field: "layers.redis.breaker", Err: err}
			}
		}
		rt.brkKey = redisName
		rt.remote = guarded{Layer: l, set: rt.brk, key: rt.brkKey}
	}
	idx, err := redistags.New(redistags.Options{Client: rt.client.v, Prefix: tagPrefix(r.Prefix)})
	if err != nil {
		return nil, nil, &BuildError{Field: "layers.redis.prefix", Err: err}
	}
	rt.shared = idx
	if rt.brk != nil {
		rt.shared = guardedTags{TagIndex: idx, g: guarded{set: rt.brk, key: rt.brkKey}}
	}
	return rt.remote, kept, nil
}

// tagPrefix is where the shared tag index of a Redis prefix lives: outside
// the layer's own prefix, so that scans of the layer never see index keys.
// Braces (Cluster hash tags) are left out: the index spreads its keys
// over slots itself.
func tagPrefix(prefix string) string {
	return redistags.DefaultPrefix + strings.NewReplacer("{", "", "}", "").Replace(prefix)
}

// Redis client settings: a cache fails fast rather than queueing behind a
// server that does not answer.
const (
	redisDialTimeout   = 2 * time.Second
	redisDialerRetries = 1
	redisMaxRetries    = 1
)

func newRedisClient(r *agentapi.RedisLayer) (redis.UniversalClient, error) {
	o := &redis.Options{Addr: r.Addr, DB: r.DB, Username: r.Username, DialTimeout: redisDialTimeout,
		DialerRetries: redisDialerRetries, MaxRetries: redisMaxRetries}
	if f := r.PasswordFile; f != "" {
		if _, err := readSecret(f); err != nil {
			return nil, &BuildError{Field: "layers.redis.passwordFile", Err: err}
		}
		// Read at every new connection, so a rotated Secret is picked up.
		// A file that has become unreadable gives an empty password, which
		// Redis refuses: the failure shows as Redis errors.
		username := r.Username
		o.CredentialsProvider = func() (string, string) {
			pw, _ := readSecret(f)
			return username, string(pw)
		}
	}
	return redis.NewClient(o), nil
}

// readSecret reads a mounted secret file, without its trailing newline.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return b, nil
}

func (a *Agent) openBus(rt *runtime, r *agentapi.RedisLayer, b *agentapi.Bus) (cache.InvalidationBus, error) {
	if r == nil || rt.client == nil {
		return nil, &BuildError{Field: "bus", Err: errors.New("needs layers.redis")}
	}
	o := redisbus.Options{Client: rt.client.v, Channel: b.Channel, OnError: func(err error) {
		a.log.Warn("invalidation bus", "error", err)
	}}
	if o.Channel == "" {
		o.Channel = "layercache:bus:" + r.Prefix
	}
	if b.SecretFile != "" {
		secret, err := readSecret(b.SecretFile)
		if err != nil {
			return nil, &BuildError{Field: "bus.secretFile", Err: err}
		}
		o.Secret, o.RequireSignature = secret, true
	}
	bus, err := redisbus.New(o)
	if err != nil {
		return nil, &BuildError{Field: "bus", Err: err}
	}
	return bus, nil
}

// openDisk opens a disk tier for the policy policyUID, indexes the tags of
// the records it already holds (so local tag invalidations find them after
// a restart), and adopts the invalidation watermark stored with them when
// it counts that policy's sequences.
func (a *Agent) openDisk(ctx context.Context, d *agentapi.DiskLayer, policyUID string) (*resource[*disk.Layer], error) {
	l, err := disk.New(disk.Options{Dir: d.Dir, Name: diskName, MaxBytes: d.MaxBytes})
	if err != nil {
		return nil, &BuildError{Field: "layers.disk", Err: err}
	}
	res := newResource(l, l.Close)
	records, err := indexDiskTags(ctx, l, a.localTags)
	if err != nil {
		_ = res.release() // the indexing error is what matters
		return nil, &BuildError{Field: "layers.disk", Err: err}
	}
	if err := a.inval.adoptDir(d.Dir, policyUID, records > 0); err != nil {
		a.log.Warn("cannot record the invalidation watermark with the disk tier", "dir", d.Dir, "error", err)
	}
	return res, nil
}

// indexBatch is how many records indexDiskTags reads at once.
const indexBatch = 500

// indexDiskTags tracks the tags of every record of l in idx and returns
// how many records l holds.
func indexDiskTags(ctx context.Context, l cache.Layer, idx cache.TagIndex) (int, error) {
	var keys []string
	if err := l.Scan(ctx, "", func(k string) bool { keys = append(keys, k); return true }); err != nil {
		return 0, fmt.Errorf("scan: %w", err)
	}
	now := time.Now().UnixNano()
	for start := 0; start < len(keys); start += indexBatch {
		batch := keys[start:min(start+indexBatch, len(keys))]
		entries, found, err := l.GetMany(ctx, batch)
		if err != nil {
			return 0, fmt.Errorf("read: %w", err)
		}
		for i, e := range entries {
			if !found[i] || len(e.Tags) == 0 || e.State(now) == cache.StateExpired {
				continue
			}
			if err := idx.Track(ctx, batch[i], e.Tags, e.ExpiresAt()); err != nil {
				return 0, fmt.Errorf("index tags: %w", err)
			}
		}
	}
	return len(keys), nil
}
