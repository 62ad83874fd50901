package layerstats

import (
	"context"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// Layer is a cache.Layer that times every operation of the layer it wraps.
// It adds no behaviour: arguments, results and errors pass through
// unchanged, and Info reports the wrapped layer's name, so the Stack and its
// metrics see the same layer. Create it with Wrap; the zero Layer is not
// usable.
type Layer struct {
	l   cache.Layer
	ops [numOps]recorder
}

var _ cache.Layer = (*Layer)(nil)

// Wrap returns a Layer that forwards to l and times each call. l must not be
// nil. The returned Layer owns nothing extra: closing it closes l.
func Wrap(l cache.Layer) *Layer {
	w := &Layer{l: l}
	for i := range w.ops {
		w.ops[i] = newRecorder()
	}
	return w
}

// Unwrap returns the wrapped layer.
func (w *Layer) Unwrap() cache.Layer { return w.l }

// Name returns the wrapped layer's name (Info().Name).
func (w *Layer) Name() string { return w.l.Info().Name }

// Summary returns the latency summary of one kind of operation. An unknown
// op yields the zero Summary.
func (w *Layer) Summary(op Op) Summary {
	if op >= numOps {
		return Summary{}
	}
	return w.ops[op].summary()
}

// Latency returns the summary of every operation kind, keyed by Op.String()
// ("get", "set", ...). Kinds never called are present with a zero Count.
// The caller owns the map.
func (w *Layer) Latency() map[string]Summary {
	m := make(map[string]Summary, numOps)
	for i := range w.ops {
		m[Op(i).String()] = w.ops[i].summary()
	}
	return m
}

// done records a call of kind op that started at start.
func (w *Layer) done(op Op, start time.Time, err error) {
	w.ops[op].record(time.Since(start), err != nil)
}

// Info returns the wrapped layer's Info. It is not timed.
func (w *Layer) Info() cache.LayerInfo { return w.l.Info() }

// Get forwards to the wrapped layer and times the call (OpGet).
func (w *Layer) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	start := time.Now()
	e, found, err := w.l.Get(ctx, key)
	w.done(OpGet, start, err)
	return e, found, err
}

// GetMany forwards to the wrapped layer and times the call (OpGetMany).
func (w *Layer) GetMany(ctx context.Context, keys []string) ([]cache.Entry, []bool, error) {
	start := time.Now()
	entries, found, err := w.l.GetMany(ctx, keys)
	w.done(OpGetMany, start, err)
	return entries, found, err
}

// Set forwards to the wrapped layer and times the call (OpSet).
func (w *Layer) Set(ctx context.Context, key string, e cache.Entry) error {
	start := time.Now()
	err := w.l.Set(ctx, key, e)
	w.done(OpSet, start, err)
	return err
}

// SetMany forwards to the wrapped layer and times the call (OpSetMany).
func (w *Layer) SetMany(ctx context.Context, items []cache.Item) error {
	start := time.Now()
	err := w.l.SetMany(ctx, items)
	w.done(OpSetMany, start, err)
	return err
}

// Delete forwards to the wrapped layer and times the call (OpDelete).
func (w *Layer) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := w.l.Delete(ctx, key)
	w.done(OpDelete, start, err)
	return err
}

// DeleteMany forwards to the wrapped layer and times the call
// (OpDeleteMany).
func (w *Layer) DeleteMany(ctx context.Context, keys []string) error {
	start := time.Now()
	err := w.l.DeleteMany(ctx, keys)
	w.done(OpDeleteMany, start, err)
	return err
}

// Scan forwards to the wrapped layer and times the call (OpScan). The time
// includes the time spent in fn, which the caller controls (the Stack
// deletes what it scans, batch by batch).
func (w *Layer) Scan(ctx context.Context, prefix string, fn func(key string) bool) error {
	start := time.Now()
	err := w.l.Scan(ctx, prefix, fn)
	w.done(OpScan, start, err)
	return err
}

// Clear forwards to the wrapped layer and times the call (OpClear).
func (w *Layer) Clear(ctx context.Context) error {
	start := time.Now()
	err := w.l.Clear(ctx)
	w.done(OpClear, start, err)
	return err
}

// Ping forwards to the wrapped layer and times the call (OpPing).
func (w *Layer) Ping(ctx context.Context) error {
	start := time.Now()
	err := w.l.Ping(ctx)
	w.done(OpPing, start, err)
	return err
}

// Close closes the wrapped layer. It is not timed.
func (w *Layer) Close() error { return w.l.Close() }
