package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/memory"
)

// manualClock is a clock tests move by hand.
type manualClock struct{ now atomic.Int64 }

func newManualClock() *manualClock {
	c := &manualClock{}
	c.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *manualClock) NowNano() int64          { return c.now.Load() }
func (c *manualClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

func newMemory(t testing.TB, name string, clock memory.Clock) *memory.Layer {
	t.Helper()
	l, err := memory.New(memory.Options{Name: name, MaxEntries: 10_000, Clock: clock})
	if err != nil {
		t.Fatalf("memory.New: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() }) // a Stack closes its layers too; Close is idempotent
	return l
}

// newStack returns a Stack over the given layers (one memory layer when none
// is given), closed at the end of the test.
func newStack(t testing.TB, opts cache.Options, layers ...cache.Layer) *cache.Stack {
	t.Helper()
	if len(layers) == 0 {
		var clock memory.Clock
		if opts.Clock != nil {
			clock = opts.Clock
		}
		layers = []cache.Layer{newMemory(t, "memory", clock)}
	}
	s, err := cache.New(context.Background(), layers, opts)
	if err != nil {
		t.Fatalf("cache.New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// counting returns a fetcher that returns v and counts its calls.
func counting[T any](v T, calls *atomic.Int32) cache.Fetcher[T] {
	return func(context.Context) (T, error) {
		calls.Add(1)
		return v, nil
	}
}
