package writebehind_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/writebehind"
)

// waitLimit bounds every wait for the flusher, so a bug fails the test
// instead of hanging it. Tests never wait this long when they pass.
const waitLimit = 10 * time.Second

// newMemory returns a real memory layer, closed when t ends (closing it
// twice is harmless).
func newMemory(t testing.TB) *memory.Layer {
	t.Helper()
	m, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatalf("memory.New: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// newLayer returns a write-behind layer over inner, closed when t ends.
func newLayer(t testing.TB, inner cache.Layer, opts writebehind.Options) *writebehind.Layer {
	t.Helper()
	l, err := writebehind.New(inner, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// noTick is an Options.Tick that never fires: with it, only a full batch,
// Flush or Close makes the layer write.
func noTick() <-chan time.Time { return make(chan time.Time) }

// call is one write the layer under test made to its inner layer.
type call struct {
	op   string // "set" or "delete"
	keys []string
}

// recorder is a test double around a real layer: it passes every call
// through and records the SetMany and DeleteMany calls, in order, on calls
// (buffered, so the flusher never waits for the test) and in log, which
// also records Close.
type recorder struct {
	cache.Layer
	calls chan call

	mu  sync.Mutex
	log []call
}

func newRecorder(inner cache.Layer) *recorder {
	return &recorder{Layer: inner, calls: make(chan call, 1000)}
}

func (r *recorder) record(c call) {
	r.mu.Lock()
	r.log = append(r.log, c)
	r.mu.Unlock()
	r.calls <- c
}

func (r *recorder) SetMany(ctx context.Context, items []cache.Item) error {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	err := r.Layer.SetMany(ctx, items)
	r.record(call{"set", keys})
	return err
}

func (r *recorder) DeleteMany(ctx context.Context, keys []string) error {
	err := r.Layer.DeleteMany(ctx, keys)
	r.record(call{"delete", slices.Clone(keys)})
	return err
}

func (r *recorder) Close() error {
	r.mu.Lock()
	r.log = append(r.log, call{op: "close"})
	r.mu.Unlock()
	return r.Layer.Close()
}

// history returns the recorded calls so far.
func (r *recorder) history() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// next waits for the next recorded call.
func (r *recorder) next(t *testing.T) call {
	t.Helper()
	select {
	case c := <-r.calls:
		return c
	case <-time.After(waitLimit):
		t.Fatal("no write reached the inner layer")
		return call{}
	}
}

var errFlaky = errors.New("inner layer unavailable")

// failing is a test double for an unreliable inner layer: its first n
// SetMany calls fail with errFlaky without writing; later calls pass
// through.
type failing struct {
	cache.Layer
	mu    sync.Mutex
	n     int // failures left
	calls int // SetMany calls so far
}

func (f *failing) SetMany(ctx context.Context, items []cache.Item) error {
	f.mu.Lock()
	f.calls++
	fail := f.n > 0
	if fail {
		f.n--
	}
	f.mu.Unlock()
	if fail {
		return errFlaky
	}
	return f.Layer.SetMany(ctx, items)
}

func (f *failing) setManyCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// gated is a test double for a slow inner layer: SetMany reports on
// entered that it has begun, then waits until open is closed (and then
// writes) or until its context ends (and then fails with the context's
// error).
type gated struct {
	cache.Layer
	entered chan []string
	open    chan struct{}
}

func newGated(inner cache.Layer) *gated {
	return &gated{Layer: inner, entered: make(chan []string, 100), open: make(chan struct{})}
}

func (g *gated) SetMany(ctx context.Context, items []cache.Item) error {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	g.entered <- keys
	select {
	case <-g.open:
		return g.Layer.SetMany(ctx, items)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitEntered waits until SetMany has begun and returns its keys.
func (g *gated) waitEntered(t *testing.T) []string {
	t.Helper()
	select {
	case keys := <-g.entered:
		return keys
	case <-time.After(waitLimit):
		t.Fatal("the flusher never called SetMany")
		return nil
	}
}

// entry returns an entry holding v, fresh for an hour, in the form a
// memory inner layer keeps.
func entry(v string) cache.Entry {
	return cache.Entry{Value: v, FreshUntil: time.Now().Add(time.Hour).UnixNano()}
}

// valueOf returns the value of a memory-layer entry.
func valueOf(e cache.Entry) string {
	s, _ := e.Value.(string)
	return s
}

// mustSet sets key to v through l.
func mustSet(t *testing.T, l cache.Layer, key, v string) {
	t.Helper()
	if err := l.Set(context.Background(), key, entry(v)); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// lookup returns the value under key in l ("" and false when absent).
func lookup(t *testing.T, l cache.Layer, key string) (string, bool) {
	t.Helper()
	e, ok, err := l.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q) on %s: %v", key, l.Info().Name, err)
	}
	return valueOf(e), ok
}

// wantValue fails t unless l holds v under key.
func wantValue(t *testing.T, l cache.Layer, key, v string) {
	t.Helper()
	if got, ok := lookup(t, l, key); !ok || got != v {
		t.Errorf("Get(%q) = %q, %v; want %q, true", key, got, ok, v)
	}
}

// wantAbsent fails t if l holds key.
func wantAbsent(t *testing.T, l cache.Layer, key string) {
	t.Helper()
	if got, ok := lookup(t, l, key); ok {
		t.Errorf("Get(%q) = %q, true; want absent", key, got)
	}
}

// flush flushes l and fails t on error.
func flush(t *testing.T, l *writebehind.Layer) {
	t.Helper()
	if err := l.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}
