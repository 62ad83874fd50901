package cache_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/memory"
)

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
