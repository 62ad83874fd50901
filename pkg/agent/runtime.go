package agent

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/breaker"
	"github.com/layercache/layercache/pkg/cache/disk"
	"github.com/layercache/layercache/pkg/cache/memory"
)

// runtime is everything built from one policy: the Stack and what serves
// it. The agent holds the current one in an atomic pointer; a request
// acquires it for its duration, so that a runtime replaced by a newer
// policy is closed only when the requests running on it have finished.
type runtime struct {
	policy    agentapi.Policy // Hash filled in
	appliedAt time.Time
	// generation starts at policy.Generation and rises when the same
	// content is applied again with a newer generation.
	generation atomic.Int64

	stack   *cache.Stack
	view    *cache.View[json.RawMessage]
	origins *origins
	bus     *localBus

	memory    *resource[*memory.Layer]
	disk      *resource[*disk.Layer]           // nil without a disk tier
	client    *resource[redis.UniversalClient] // nil without Redis
	remote    cache.Layer                      // the Redis layer as the Stack sees it; nil without Redis
	shared    cache.TagIndex                   // the Redis tag index; nil without Redis
	localTags cache.TagIndex                   // the agent's index of the local tiers
	brk       *breaker.Set                     // the Redis breaker; nil without one
	brkKey    string                           // the breaker's key
	names     map[string]layerRole             // layer name -> its role

	// inflight is read-locked by every request using the runtime and
	// write-locked once to retire it.
	inflight sync.RWMutex
	retired  bool // set under inflight's write lock
}

// layerRole says what a layer of the Stack is.
type layerRole struct {
	shared  bool
	breaker bool
}

// Layer names in the Stack.
const (
	memoryName = "memory"
	redisName  = "redis"
	diskName   = "disk"
)

// localLayers returns the runtime's own tiers (memory, then disk).
func (rt *runtime) localLayers() []cache.Layer {
	ls := []cache.Layer{rt.memory.v}
	if rt.disk != nil {
		ls = append(ls, rt.disk.v)
	}
	return ls
}

// enter marks a request as running on rt. It fails when rt has been
// retired; the caller then loads the current runtime again.
func (rt *runtime) enter() bool {
	rt.inflight.RLock()
	if rt.retired {
		rt.inflight.RUnlock()
		return false
	}
	return true
}

func (rt *runtime) leave() { rt.inflight.RUnlock() }

// drain waits for the requests running on rt and marks it retired, so that
// no new one starts. It returns with the write lock held: the caller
// closes rt, then calls undrain.
func (rt *runtime) drain() {
	rt.inflight.Lock()
	rt.retired = true
}

func (rt *runtime) undrain() { rt.inflight.Unlock() }

// close closes the Stack (which leaves borrowed layers open), then drops
// the runtime's references to its parts, closing those no newer runtime
// kept.
func (rt *runtime) close(ctx context.Context) error {
	var errs []error
	if rt.stack != nil {
		errs = append(errs, rt.stack.Close(ctx))
	} else if rt.bus != nil {
		errs = append(errs, rt.bus.Close())
	}
	errs = append(errs, rt.releaseParts())
	return errors.Join(errs...)
}

// releaseParts drops rt's references to its memory, disk and Redis client.
func (rt *runtime) releaseParts() error {
	var errs []error
	if rt.memory != nil {
		errs = append(errs, rt.memory.release())
		rt.memory = nil
	}
	if rt.disk != nil {
		errs = append(errs, rt.disk.release())
		rt.disk = nil
	}
	if rt.client != nil {
		errs = append(errs, rt.client.release())
		rt.client = nil
	}
	return errors.Join(errs...)
}

// acquire returns the current runtime, entered, and the function that
// leaves it; nil before Start has built one and after shutdown.
func (a *Agent) acquire() (*runtime, func()) {
	for {
		rt := a.current.Load()
		if rt == nil {
			return nil, func() {}
		}
		if rt.enter() {
			return rt, rt.leave
		}
	}
}

// retire closes rt in the background once the requests running on it have
// finished. Shutdown waits for every retirement.
func (a *Agent) retire(rt *runtime) {
	a.retiring.Go(func() {
		rt.drain()
		defer rt.undrain()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(a.life), a.opts.ShutdownTimeout)
		defer cancel()
		if err := rt.close(ctx); err != nil {
			a.log.Warn("closing the previous policy's cache failed", "policyHash", rt.policy.Hash, "error", err)
		}
	})
}
