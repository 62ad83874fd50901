package cache

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// GenerationStore keeps a Stack's generation where every instance can read
// it. pkg/cache/redisgen stores it in Redis.
type GenerationStore interface {
	// Load returns the current generation (0 if none was stored).
	Load(ctx context.Context) (uint64, error)
	// Bump increments the generation atomically and returns the new value.
	Bump(ctx context.Context) (uint64, error)
}

// Generations turns on generation-qualified keys: every key is stored as
// "v<generation>:<key>", so BumpGeneration invalidates everything at once,
// without scanning. Old-generation entries are unreachable at once and are
// removed by their TTL or, with Cleanup, by a background sweep.
type Generations struct {
	// Store shares the generation between instances. default: nil (the
	// generation lives in this process and starts at 0)
	Store GenerationStore
	// Refresh is how often the Stack re-reads a shared Store, so a bump by
	// another instance takes effect here. default: 1 second
	Refresh time.Duration
	// Cleanup deletes the previous generation's keys from every layer in the
	// background after a bump. default: false
	Cleanup bool
}

// genState is the Stack's view of its generation.
type genState struct {
	prefix  atomic.Pointer[string] // "v<g>:"; nil when generations are off
	current atomic.Uint64
	mu      sync.Mutex // serialises bumps and refreshes
}

func (g *genState) set(v uint64) (old uint64, changed bool) {
	old = g.current.Swap(v)
	p := "v" + strconv.FormatUint(v, 10) + ":"
	g.prefix.Store(&p)
	return old, old != v
}

// startGenerations loads the first generation and starts the refresh loop
// for a shared store.
func (c *core) startGenerations(ctx context.Context) error {
	g := c.opts.Generations
	var v uint64
	if g.Store != nil {
		var err error
		if v, err = g.Store.Load(ctx); err != nil {
			return fmt.Errorf("cache: load generation: %w", err)
		}
	}
	c.gen.set(v)
	if g.Store == nil {
		return nil
	}
	c.background.Add(1)
	go func() {
		defer c.background.Done()
		t := time.NewTicker(g.Refresh)
		defer t.Stop()
		for {
			select {
			case <-c.life.Done():
				return
			case <-t.C:
			}
			v, err := g.Store.Load(c.life)
			if err != nil {
				if c.events.active() {
					c.events.emit(Event{Type: EventError, Err: fmt.Errorf("cache: refresh generation: %w", err)})
				}
				continue
			}
			c.gen.mu.Lock()
			if v > c.gen.current.Load() {
				old, _ := c.gen.set(v)
				c.afterGenerationChange(old)
			}
			c.gen.mu.Unlock()
		}
	}()
	return nil
}

// Generation returns the current generation, or 0 when generations are off.
func (s *Stack) Generation() uint64 { return s.c.gen.current.Load() }

// BumpGeneration moves the Stack (and, through a shared store, every
// instance) to the next generation: every existing entry becomes
// unreachable at once. It returns the new generation.
func (s *Stack) BumpGeneration(ctx context.Context) (uint64, error) {
	c := s.c
	if c.closed.Load() {
		return 0, ErrClosed
	}
	g := c.opts.Generations
	if g == nil {
		return 0, fmt.Errorf("cache: BumpGeneration needs Options.Generations")
	}
	c.gen.mu.Lock()
	defer c.gen.mu.Unlock()
	next := c.gen.current.Load() + 1
	if g.Store != nil {
		var err error
		if next, err = g.Store.Bump(ctx); err != nil {
			return 0, fmt.Errorf("cache: bump generation: %w", err)
		}
	}
	old, changed := c.gen.set(next)
	if changed {
		c.afterGenerationChange(old)
	}
	c.publish(ctx, BusMessage{Kind: BusGeneration, Generation: next})
	return next, nil
}

// afterGenerationChange supersedes running fetches (they read the old
// generation) and starts the cleanup of the old one. Callers hold gen.mu.
func (c *core) afterGenerationChange(old uint64) {
	c.fences.clearAll(func() {})
	c.flight.ForgetAll()
	if !c.opts.Generations.Cleanup {
		return
	}
	if !c.beginBackground() {
		return
	}
	prefix := "v" + strconv.FormatUint(old, 10) + ":"
	go func() {
		defer c.background.Done()
		for i := range c.layers {
			l := &c.layers[i]
			if err := c.deletePrefix(c.life, l, prefix); err != nil && c.life.Err() == nil {
				_ = c.layerErr(l, "generation-cleanup", prefix, err)
			}
		}
	}()
}
