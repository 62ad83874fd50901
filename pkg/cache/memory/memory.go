package memory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/coarseclock"
	"github.com/maypok86/otter/v2"
)

// scanCheckEvery is how many keys Scan visits between checks of its context.
const scanCheckEvery = 256

// Layer is the in-process cache.Layer. Create it with New. It is safe for
// concurrent use; see the package documentation for its contract.
type Layer struct {
	store  *otter.Cache[string, *item]
	clock  Clock              // never nil
	coarse *coarseclock.Clock // the default clock, owned: stopped by Close
	maint  *maintenance       // the store's executor; see maintenance
	cfg    config
	info   cache.LayerInfo
	closed atomic.Bool
}

var (
	_ cache.Layer       = (*Layer)(nil)
	_ cache.ClockLender = (*Layer)(nil)
)

// New returns an empty layer configured by opts. It returns an error naming
// the field when an option is invalid; it does not modify opts.
func New(opts Options) (*Layer, error) {
	cfg, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	maint := &maintenance{}
	o := &otter.Options[string, *item]{
		InitialCapacity:  cfg.initialCapacity,
		ExpiryCalculator: otter.ExpiryWritingFunc(expiresAfter),
		Executor:         maint.execute,
	}
	if cfg.maxBytes > 0 {
		o.MaximumWeight = uint64(cfg.maxBytes)
		o.Weigher = func(_ string, it *item) uint32 { return it.weight }
	} else {
		o.MaximumSize = cfg.maxEntries
	}
	clock := cfg.clock
	var coarse *coarseclock.Clock
	switch c := clock.(type) {
	case nil:
		// Reading the precise time costs more than the rest of a hit, and
		// otter reads its clock on every Get; a coarse clock is read like a
		// variable. It also drives the store's periodic clean-up. It sleeps
		// while the layer is idle (the clean-up's read once a second wakes
		// it for DefaultClockIdleAfter), instead of waking a goroutine
		// every millisecond for ever.
		coarse = coarseclock.New(DefaultClockResolution, DefaultClockIdleAfter)
		clock, o.Clock = coarse, coarse
	case otter.Clock: // an *otter.CoarseClock or a *coarseclock.Clock
		o.Clock = c
	default:
		o.Clock = storeClock{clock}
	}
	store, err := otter.New(o)
	if err != nil {
		if coarse != nil {
			coarse.Stop()
		}
		return nil, fmt.Errorf("memory layer: %w", err)
	}
	return &Layer{
		store:  store,
		coarse: coarse,
		maint:  maint,
		clock:  clock,
		cfg:    cfg,
		info: cache.LayerInfo{
			Name:         cfg.name,
			Values:       true,
			NeedsPayload: cfg.maxBytes > 0,
		},
	}, nil
}

// Info describes the layer: per-process, keeping decoded values, and asking
// for payloads only when bounded by bytes (to weigh entries).
func (l *Layer) Info() cache.LayerInfo { return l.info }

// Get returns the entry stored under key, without its Payload. It never
// returns an entry whose ExpiresAt has passed on the layer's clock. It does
// not allocate, does not block, and ignores ctx.
func (l *Layer) Get(_ context.Context, key string) (e cache.Entry, found bool, err error) {
	if l.closed.Load() {
		return cache.Entry{}, false, ErrClosed
	}
	it, ok := l.store.GetIfPresent(key)
	if !ok {
		return cache.Entry{}, false, nil
	}
	return it.entry(), true, nil
}

// Clock returns the clock the layer checks deadlines against
// (cache.ClockLender): the Stack reads it too when its own Options.Clock is
// unset. It keeps running until the layer is closed.
func (l *Layer) Clock() cache.Clock { return l.clock }

// LendEntry returns the stored entry itself instead of a copy, for the
// Stack's L1 hit path (cache.EntryLender). The entry is read-only: the layer
// never changes a stored entry (a write stores a new one), and the caller
// must not change it either.
func (l *Layer) LendEntry(key string) (*cache.Entry, bool) {
	if l.closed.Load() {
		return nil, false
	}
	it, ok := l.store.GetIfPresent(key)
	if !ok {
		return nil, false
	}
	return &it.e, true
}

// GetMany returns the entries stored under keys, in order. It ignores ctx.
func (l *Layer) GetMany(_ context.Context, keys []string) (entries []cache.Entry, found []bool, err error) {
	if l.closed.Load() {
		return nil, nil, ErrClosed
	}
	entries = make([]cache.Entry, len(keys))
	found = make([]bool, len(keys))
	for i, k := range keys {
		if it, ok := l.store.GetIfPresent(k); ok {
			entries[i], found[i] = it.entry(), true
		}
	}
	return entries, found, nil
}

// Set stores e under key, replacing what was there. It keeps e.Value and
// e.Tags as given and drops e.Payload. An entry that has already expired
// is not stored (and the key's previous entry is removed); Set returns nil.
// When bounded by bytes, an entry charged more than MaxBytes is not stored
// either (the previous entry is removed too) and Set returns an error
// wrapping cache.ErrTooLarge. It ignores ctx.
func (l *Layer) Set(_ context.Context, key string, e cache.Entry) error {
	if l.closed.Load() {
		return ErrClosed
	}
	return l.set(key, &e)
}

func (l *Layer) set(key string, e *cache.Entry) error {
	l.maint.beginWrite()
	defer l.maint.endWrite()
	if at := e.ExpiresAt(); at != 0 && at <= l.clock.NowNano() {
		l.store.Invalidate(key)
		return nil
	}
	var weight uint32
	if l.cfg.maxBytes > 0 {
		w, fits := charge(&l.cfg, key, e)
		if !fits {
			l.store.Invalidate(key)
			return fmt.Errorf("memory layer: set %q: entry is charged %d bytes, MaxBytes is %d: %w",
				key, w, l.cfg.maxBytes, cache.ErrTooLarge)
		}
		weight = uint32(w)
	}
	l.store.Set(key, newItem(e, weight))
	return nil
}

// SetMany stores every item as Set does. It stores the items it can and
// returns the errors of the others, joined. It ignores ctx.
func (l *Layer) SetMany(_ context.Context, items []cache.Item) error {
	if l.closed.Load() {
		return ErrClosed
	}
	var errs []error
	for i := range items {
		if err := l.set(items[i].Key, &items[i].Entry); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Delete removes key. Deleting a missing key is not an error. It ignores ctx.
func (l *Layer) Delete(_ context.Context, key string) error {
	if l.closed.Load() {
		return ErrClosed
	}
	l.maint.beginWrite()
	l.store.Invalidate(key)
	l.maint.endWrite()
	return nil
}

// DeleteMany removes keys. It ignores ctx.
func (l *Layer) DeleteMany(_ context.Context, keys []string) error {
	if l.closed.Load() {
		return ErrClosed
	}
	for _, k := range keys {
		l.maint.beginWrite()
		l.store.Invalidate(k)
		l.maint.endWrite()
	}
	return nil
}

// Scan calls fn for every live key that starts with prefix ("" for all
// keys) until fn returns false. It walks the whole table, so its cost grows
// with the number of entries, not of matches. Entries written or removed
// during the scan may or may not be seen. It returns ctx's error if ctx
// has ended before or ends during the scan. fn may call the layer.
func (l *Layer) Scan(ctx context.Context, prefix string, fn func(key string) bool) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n := 0
	for k := range l.store.Keys() {
		if n++; n%scanCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if strings.HasPrefix(k, prefix) && !fn(k) {
			return nil
		}
	}
	return nil
}

// Clear removes every entry. It ignores ctx.
func (l *Layer) Clear(_ context.Context) error {
	if l.closed.Load() {
		return ErrClosed
	}
	l.store.InvalidateAll()
	l.maint.run()
	return nil
}

// Ping returns nil, or ErrClosed after Close.
func (l *Layer) Ping(_ context.Context) error {
	if l.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Close removes every entry and stops the store's periodic clean-up
// goroutine, waiting for it to return. Afterwards every other method returns
// ErrClosed. Close does not wait for calls already in progress. Calling
// Close again does nothing and returns nil.
func (l *Layer) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	l.maint.close()
	l.store.StopAllGoroutines()
	l.store.InvalidateAll()
	if l.coarse != nil {
		l.coarse.Stop()
	}
	return nil
}

// storeClock gives the store a custom Clock. It has no ticks, so the store
// runs no periodic clean-up: a test clock would not move between ticks
// anyway, and expired entries are invisible regardless.
type storeClock struct{ Clock }

// Tick returns nil: no ticks.
func (storeClock) Tick(time.Duration) <-chan time.Time { return nil }
