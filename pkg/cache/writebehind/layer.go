package writebehind

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// Layer is a cache.Layer that queues writes for an inner layer and writes
// them in batches from one goroutine. Create it with New; the zero value is
// not usable. It is safe for concurrent use; see the package documentation
// for its contract.
type Layer struct {
	inner cache.Layer
	info  cache.LayerInfo
	cfg   config

	// writeSem holds a token while the flusher writes to inner and while
	// Clear clears it, so that a batch taken from the queue before a Clear
	// is never written after it.
	writeSem chan struct{}
	kick     chan struct{}     // a full batch is queued; capacity 1
	flushReq chan flushRequest // Flush calls, served by the flusher
	closing  chan struct{}     // closed when Close begins
	done     chan struct{}     // closed when the flusher has returned
	// cancel ends the flusher's context, with cause ErrCloseTimeout when
	// Options.CloseTimeout elapses during Close.
	cancel context.CancelCauseFunc

	mu sync.RWMutex // protects the fields below
	// queue holds the queued writes in the order their keys were first
	// queued. Every op in queue is in pending and the other way round.
	queue   []*op
	pending map[string]*op // queued writes by key
	// inflight is the batch the flusher is writing, by key; nil when none.
	// Its writes stay visible to reads until the batch is done.
	inflight map[string]*op
	seq      uint64        // sequence number of the last op queued
	epoch    uint64        // bumped by Clear; batches of older epochs are discarded
	room     chan struct{} // closed when room is made; nil while nobody waits
	closed   bool
	stats    Stats // counters; Pending is computed by Stats

	closeOnce sync.Once
	closeErr  error
	drainErr  error // what the flusher's last drain dropped; read after done is closed
}

// op is one queued write: a set of entry, or a delete.
type op struct {
	key   string
	entry cache.Entry // zero for a delete
	del   bool
	seq   uint64 // when key was first queued; orders queue
}

// visible returns what a read of op's key sees at now: nothing for a
// delete or an expired entry.
func (o *op) visible(now int64) (cache.Entry, bool) {
	if o.del {
		return cache.Entry{}, false
	}
	if at := o.entry.ExpiresAt(); at != 0 && at <= now {
		return cache.Entry{}, false
	}
	return o.entry, true
}

var _ cache.Layer = (*Layer)(nil)

// New returns a Layer that defers writes to inner and starts its flusher
// goroutine. The Layer owns inner from now on: Close closes it, and inner
// should not be written to except through the Layer. New returns an error
// naming the field when an option is invalid; it does not modify opts.
func New(inner cache.Layer, opts Options) (*Layer, error) {
	if inner == nil {
		return nil, errors.New("writebehind layer: inner layer is nil")
	}
	cfg, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	l := &Layer{
		inner:    inner,
		info:     inner.Info(),
		cfg:      cfg,
		writeSem: make(chan struct{}, 1),
		kick:     make(chan struct{}, 1),
		flushReq: make(chan flushRequest),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		cancel:   cancel,
		pending:  make(map[string]*op),
	}
	tick, stop := cfg.tick, func() {}
	if tick == nil {
		t := time.NewTicker(cfg.flushInterval)
		tick, stop = t.C, t.Stop
	}
	go l.run(ctx, tick, stop)
	return l, nil
}

// Info returns the inner layer's info, unchanged.
func (l *Layer) Info() cache.LayerInfo { return l.info }

// lookup returns the newest pending write of key, or nil. l.mu must be held.
func (l *Layer) lookup(key string) *op {
	if o := l.pending[key]; o != nil {
		return o
	}
	return l.inflight[key]
}

// Get returns the entry under key: from the newest pending write of key if
// there is one (nothing if that write is a delete or its entry has
// expired), and otherwise from the inner layer.
func (l *Layer) Get(ctx context.Context, key string) (e cache.Entry, found bool, err error) {
	now := l.cfg.clock.NowNano()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return cache.Entry{}, false, ErrClosed
	}
	o := l.lookup(key)
	if o != nil {
		e, found = o.visible(now)
	}
	l.mu.RUnlock()
	if o != nil {
		return e, found, nil
	}
	return l.inner.Get(ctx, key)
}

// GetMany returns the entries under keys, in order, answering each key as
// Get does. Keys without a pending write are read from the inner layer
// with one GetMany call, made only if there are any.
func (l *Layer) GetMany(ctx context.Context, keys []string) (entries []cache.Entry, found []bool, err error) {
	now := l.cfg.clock.NowNano()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, nil, ErrClosed
	}
	if len(l.pending) == 0 && len(l.inflight) == 0 {
		l.mu.RUnlock()
		return l.inner.GetMany(ctx, keys)
	}
	entries = make([]cache.Entry, len(keys))
	found = make([]bool, len(keys))
	var missing []int // indexes of keys to read from inner
	for i, k := range keys {
		if o := l.lookup(k); o != nil {
			entries[i], found[i] = o.visible(now)
			continue
		}
		missing = append(missing, i)
	}
	l.mu.RUnlock()
	if len(missing) == 0 {
		return entries, found, nil
	}
	innerKeys := make([]string, len(missing))
	for j, i := range missing {
		innerKeys[j] = keys[i]
	}
	ie, ifound, err := l.inner.GetMany(ctx, innerKeys)
	if err != nil {
		return nil, nil, err
	}
	if len(ie) != len(innerKeys) || len(ifound) != len(innerKeys) {
		return nil, nil, fmt.Errorf("writebehind layer: inner layer %s: GetMany of %d keys returned %d entries and %d flags",
			l.info.Name, len(innerKeys), len(ie), len(ifound))
	}
	for j, i := range missing {
		entries[i], found[i] = ie[j], ifound[j]
	}
	return entries, found, nil
}

// Scan calls fn for every key under prefix that a Get would find, until fn
// returns false: first the keys of pending sets, then the inner layer's
// keys, skipping those with a pending write (a pending delete hides a key;
// a pending set was reported already). The pending writes are read once,
// when Scan starts. fn may call the layer. Scan returns ctx's error if ctx
// ends before the pending keys are reported, and the inner layer's Scan
// error otherwise.
func (l *Layer) Scan(ctx context.Context, prefix string, fn func(key string) bool) error {
	now := l.cfg.clock.NowNano()
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	if len(l.pending) == 0 && len(l.inflight) == 0 {
		l.mu.RUnlock()
		return l.inner.Scan(ctx, prefix, fn)
	}
	var live []string
	shadowed := make(map[string]struct{})
	add := func(k string, o *op) {
		if _, seen := shadowed[k]; seen || !strings.HasPrefix(k, prefix) {
			return
		}
		shadowed[k] = struct{}{}
		if _, ok := o.visible(now); ok {
			live = append(live, k)
		}
	}
	for k, o := range l.pending {
		add(k, o)
	}
	for k, o := range l.inflight {
		add(k, o) // skipped when pending has a newer write
	}
	l.mu.RUnlock()

	if err := ctx.Err(); err != nil {
		return err
	}
	for _, k := range live {
		if !fn(k) {
			return nil
		}
	}
	return l.inner.Scan(ctx, prefix, func(k string) bool {
		if _, ok := shadowed[k]; ok {
			return true
		}
		return fn(k)
	})
}

// Clear drops every pending write and clears the inner layer. It first
// waits for the batch being written, if any, so that no write queued
// before Clear reaches the inner layer after it; it returns ctx's error if
// ctx ends during that wait. The dropped writes are not counted as dropped
// in Stats: Clear discards them on purpose.
func (l *Layer) Clear(ctx context.Context) error {
	if err := l.acquire(ctx); err != nil {
		return err
	}
	defer l.release()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.epoch++
	clear(l.queue)
	l.queue = nil
	clear(l.pending)
	l.inflight = nil
	l.wake()
	l.mu.Unlock()
	return l.inner.Clear(ctx)
}

// Ping pings the inner layer.
func (l *Layer) Ping(ctx context.Context) error {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return l.inner.Ping(ctx)
}

// Close makes every later operation fail with ErrClosed, wakes writers
// waiting for room (they get ErrClosed), flushes every pending write, waits
// for the flusher goroutine to return and closes the inner layer. Flushing
// is bounded by Options.CloseTimeout (see the package documentation).
// Close returns the inner layer's Close error joined with an error
// wrapping ErrDropped if any write was dropped while closing. Calling
// Close again returns the first call's result.
func (l *Layer) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.wake()
		l.mu.Unlock()
		close(l.closing)

		t := time.NewTimer(l.cfg.closeTimeout)
		select {
		case <-l.done:
		case <-t.C:
			l.cancel(ErrCloseTimeout)
			<-l.done
		}
		t.Stop()
		l.cancel(nil) // release the context's resources
		l.closeErr = errors.Join(l.drainErr, l.inner.Close())
	})
	return l.closeErr
}

// Stats counts what the Layer has done since New.
type Stats struct {
	// Pending is the number of writes queued or being written: accepted by
	// Set, Delete, SetMany or DeleteMany but not yet in the inner layer.
	Pending int
	// Flushed counts writes (one per key and batch) the inner layer
	// accepted.
	Flushed uint64
	// Failed counts inner SetMany and DeleteMany calls that returned an
	// error; every retry that fails counts again.
	Failed uint64
	// Dropped counts writes given up on, after MaxRetries retries or
	// because CloseTimeout elapsed; each was reported to OnError.
	Dropped uint64
	// Flushes counts batches handed to the inner layer, however many
	// attempts each took.
	Flushes uint64
	// Coalesced counts writes replaced by a later write of the same key
	// before they reached the inner layer.
	Coalesced uint64
}

// Stats returns the Layer's counters. It works after Close too.
func (l *Layer) Stats() Stats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	s := l.stats
	s.Pending = len(l.pending) + len(l.inflight)
	return s
}

// wake wakes the writers waiting for room. l.mu must be held.
func (l *Layer) wake() {
	if l.room != nil {
		close(l.room)
		l.room = nil
	}
}

// acquire takes writeSem, or returns ctx's cause if ctx ends first.
func (l *Layer) acquire(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	select {
	case l.writeSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// release gives writeSem back.
func (l *Layer) release() { <-l.writeSem }
