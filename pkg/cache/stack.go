package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/layercache/layercache/pkg/cache/coarseclock"
	"github.com/layercache/layercache/pkg/cache/codec"
	"github.com/layercache/layercache/pkg/cache/singleflight"
	"github.com/layercache/layercache/pkg/cache/tagindex"
)

// Stack is an ordered list of layers behind one API. Create it with New;
// read and write typed values through Typed. A *Stack returned by Namespace
// shares the layers, counters and lifetime of its parent and qualifies every
// key with its prefix.
type Stack struct {
	c      *core
	prefix string // "" for the root, else "ns1:ns2:"
}

// core is the state shared by a Stack and its namespaces.
type core struct {
	layers      []layerState
	codec       codec.Codec
	opts        Options
	clock       Clock
	ownClock    *coarseclock.Clock // stopped by Close when the Stack made it
	needPayload bool               // some layer stores bytes

	tags TagIndex
	gen  genState
	// profiles is nil unless AdaptiveTTL or EarlyRefresh needs it.
	profiles *profiles
	// lender is the fastest layer when it lends entries (EntryLender).
	lender EntryLender
	// anyFreshPolicy is decided once so a plain fresh hit pays one branch.
	anyFreshPolicy bool
	flight         singleflight.Group[string, flightResult]
	fences         *fences
	metrics        metrics
	events         listeners

	life       context.Context // ends at Close; parent of background work
	stopLife   context.CancelFunc
	detached   context.Context // life's values without its end: for writes that must finish
	background sync.WaitGroup  // refreshes and other owned goroutines
	refreshing refreshes
	closed     atomic.Bool
	closeOnce  sync.Once
}

type layerState struct {
	Layer
	info    LayerInfo
	metrics *layerMetrics
	// degradedUntil is when a failed layer is used again (Unix ns; 0: in
	// use). A pointer keeps layerState copyable.
	degradedUntil *atomic.Int64
}

// New builds a Stack over layers, fastest first. It validates opts and the
// layers' names; it does no I/O. The Stack owns the layers: Close closes them.
func New(ctx context.Context, layers []Layer, opts Options) (*Stack, error) {
	if len(layers) == 0 {
		return nil, errors.New("cache: New needs at least one layer")
	}
	names := make(map[string]bool, len(layers))
	c := &core{fences: newFences()}
	for i, l := range layers {
		if l == nil {
			return nil, fmt.Errorf("cache: layer %d is nil", i)
		}
		info := l.Info()
		if info.Name == "" {
			return nil, fmt.Errorf("cache: layer %d has an empty name", i)
		}
		if names[info.Name] {
			return nil, fmt.Errorf("cache: two layers are named %q; names must be unique", info.Name)
		}
		names[info.Name] = true
		if !info.Values || info.NeedsPayload {
			c.needPayload = true
		}
		c.layers = append(c.layers, layerState{Layer: l, info: info, metrics: new(layerMetrics), degradedUntil: new(atomic.Int64)})
	}
	if lender, ok := layers[0].(EntryLender); ok && c.layers[0].info.Values {
		c.lender = lender
	}
	o, err := opts.validate(names)
	if err != nil {
		return nil, err
	}
	c.opts, c.codec, c.clock, c.tags = o, o.Codec, o.Clock, o.TagIndex
	for i := 0; c.clock == nil && i < len(layers); i++ {
		if cl, ok := layers[i].(ClockLender); ok {
			c.clock = cl.Clock()
		}
	}
	if c.clock == nil {
		c.ownClock = coarseclock.New(coarseclock.DefaultResolution, coarseclock.DefaultIdleAfter)
		c.clock = c.ownClock
	}
	if o.AdaptiveTTL != nil || o.EarlyRefresh > 0 {
		if c.profiles, err = newProfiles(o.MaxProfiles); err != nil {
			return nil, fmt.Errorf("cache: profiles: %w", err)
		}
	}
	c.anyFreshPolicy = c.profiles != nil || o.SlidingTTL || o.RefreshAhead > 0
	if c.tags == nil {
		idx, err := tagindex.New(tagindex.Options{Clock: c.clock})
		if err != nil {
			return nil, fmt.Errorf("cache: default tag index: %w", err)
		}
		c.tags = idx
	}
	c.life, c.stopLife = context.WithCancel(context.WithoutCancel(ctx))
	c.detached = context.WithoutCancel(c.life)
	if o.Generations != nil {
		if err := c.startGenerations(ctx); err != nil {
			c.stopLife()
			return nil, err
		}
	}
	if o.Bus != nil {
		c.startBus(ctx)
	}
	return &Stack{c: c}, nil
}

// Namespace returns a view of s whose keys are prefixed with name and ":".
// Namespaces nest: s.Namespace("a") then .Namespace("b") qualifies keys as
// "a:b:key". Clear on a namespace removes only its keys. The name follows
// the key rules and may not contain ':'.
func (s *Stack) Namespace(name string) (*Stack, error) {
	if err := validateName("namespace", name); err != nil {
		return nil, err
	}
	if strings.Contains(name, ":") {
		return nil, fmt.Errorf("%w: namespace %q contains ':'", ErrInvalidKey, name)
	}
	p := s.prefix + name + ":"
	if len(p) >= MaxKeyLen {
		return nil, fmt.Errorf("%w: namespace prefix %.64q leaves no room for keys", ErrInvalidKey, p)
	}
	return &Stack{c: s.c, prefix: p}, nil
}

// Prefix returns the namespace prefix keys are qualified with ("" for the
// root Stack).
func (s *Stack) Prefix() string { return s.prefix }

// fullPrefix is what qualify puts before a key: the generation and the
// namespace.
func (s *Stack) fullPrefix() string {
	if g := s.c.gen.prefix.Load(); g != nil {
		return *g + s.prefix
	}
	return s.prefix
}

// qualify validates key and returns it with the generation and namespace
// prefixes. The root Stack without generations returns key itself, so the
// hit path allocates nothing.
func (s *Stack) qualify(key string) (string, error) {
	g := s.c.gen.prefix.Load()
	if s.prefix == "" && g == nil {
		return key, ValidateKey(key)
	}
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	qk := s.fullPrefix() + key
	if len(qk) > MaxKeyLen {
		return "", fmt.Errorf("%w: key %.64q is %d bytes with its namespace, at most %d are allowed",
			ErrInvalidKey, key, len(qk), MaxKeyLen)
	}
	return qk, nil
}

// Waiting reports how many callers wait for the running fetch of key (0
// when none runs or the key is invalid). It is meant for diagnostics and
// tests.
func (s *Stack) Waiting(key string) int {
	qk, err := s.qualify(key)
	if err != nil {
		return 0
	}
	return s.c.flight.Waiters(qk)
}

// Layers returns the names of the layers, fastest first.
func (s *Stack) Layers() []string {
	names := make([]string, len(s.c.layers))
	for i := range s.c.layers {
		names[i] = s.c.layers[i].info.Name
	}
	return names
}

// Subscribe registers fn for every event of the Stack (namespaces included)
// and returns a function that removes it.
func (s *Stack) Subscribe(fn Listener) (unsubscribe func()) {
	return s.c.events.add(fn)
}

// Stats returns a snapshot of the Stack's counters.
func (s *Stack) Stats() Stats {
	m := &s.c.metrics
	st := Stats{
		Misses: m.misses.load(), StaleHits: m.staleHits.load(),
		NegativeHits: m.negativeHits.load(), Fetches: m.fetches.load(), FetchErrors: m.fetchErrors.load(),
		Dedupes: m.dedupes.load(), Refreshes: m.refreshes.load(), RefreshErrors: m.refreshErrors.load(),
		Sets: m.sets.load(), Deletes: m.deletes.load(), Backfills: m.backfills.load(),
		WriteFailures: m.writeFailures.load(), FencedWrites: m.fencedWrites.load(), Corrupt: m.corrupt.load(),
		Invalidations: m.invalidations.load(), Expirations: m.expirations.load(),
		TagErrors: m.tagErrors.load(), Degradations: m.degradations.load(),
		BreakerOpen: m.breakerRejections.load(), RateLimited: m.rateLimited.load(),
		BusPublished: m.busPublished.load(), BusReceived: m.busReceived.load(), BusErrors: m.busErrors.load(),
		BusReconnects: m.busReconnects.load(), RemoteResults: m.remoteResults.load(),
		CoordinatorErrors: m.coordinatorErrors.load(),
	}
	// Hits and layer errors are counted once, per layer: the Stack-wide
	// figures are their sums (which saves the hit path an atomic increment).
	for i := range s.c.layers {
		l := &s.c.layers[i]
		st.Hits += l.metrics.hits.load()
		st.LayerErrors += l.metrics.errors.load()
		st.Layers = append(st.Layers, LayerStats{
			Name: l.info.Name, Hits: l.metrics.hits.load(), Misses: l.metrics.misses.load(), Errors: l.metrics.errors.load(),
		})
	}
	return st
}

// Ping pings every layer and returns their failures joined.
func (s *Stack) Ping(ctx context.Context) error {
	var errs []error
	for i := range s.c.layers {
		l := &s.c.layers[i]
		if err := l.Ping(ctx); err != nil {
			errs = append(errs, &LayerError{Layer: l.info.Name, Op: "ping", Err: err})
		}
	}
	return errors.Join(errs...)
}

// Close stops background work (refreshes, in-flight fetches are cancelled),
// waits for it until ctx ends, then closes every layer. Operations after
// Close return ErrClosed. Closing a namespace closes the whole Stack.
func (s *Stack) Close(ctx context.Context) error {
	c := s.c
	var err error
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.stopRefreshes()
		c.stopLife()
		c.flight.Cancel()
		done := make(chan struct{})
		go func() {
			c.background.Wait()
			c.flight.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = fmt.Errorf("cache: close: background work still running: %w", ctx.Err())
		}
		var errs []error
		if c.opts.Bus != nil {
			if berr := c.opts.Bus.Close(); berr != nil {
				errs = append(errs, fmt.Errorf("cache: close bus: %w", berr))
			}
		}
		if cl, ok := c.opts.Coordinator.(io.Closer); ok {
			if cerr := cl.Close(); cerr != nil {
				errs = append(errs, fmt.Errorf("cache: close coordinator: %w", cerr))
			}
		}
		for i := range c.layers {
			l := &c.layers[i]
			if cerr := l.Close(); cerr != nil {
				errs = append(errs, &LayerError{Layer: l.info.Name, Op: "close", Err: cerr})
			}
		}
		if c.ownClock != nil {
			c.ownClock.Stop()
		}
		c.profiles.close()
		err = errors.Join(append([]error{err}, errs...)...)
	})
	return err
}

// layerErr records and reports a failed layer operation.
func (c *core) layerErr(l *layerState, op, key string, err error) error {
	l.metrics.errors.inc()
	c.degrade(l)
	le := &LayerError{Layer: l.info.Name, Op: op, Key: key, Err: err}
	if c.events.active() {
		c.events.emit(Event{Type: EventError, Key: key, Layer: l.info.Name, Err: le})
	}
	return le
}
