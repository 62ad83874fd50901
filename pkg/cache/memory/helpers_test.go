package memory

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct{ now atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) NowNano() int64           { return c.now.Load() }
func (c *fakeClock) Add(d time.Duration)      { c.now.Add(int64(d)) }
func (c *fakeClock) At(d time.Duration) int64 { return c.now.Load() + int64(d) }

// newLayer returns a layer built from opts and closes it when t ends.
func newLayer(t testing.TB, opts Options) *Layer {
	t.Helper()
	l, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// cleanUp runs the store's pending maintenance (evictions, removal of
// expired entries), which otherwise runs on its own goroutine after writes.
func cleanUp(l *Layer) { l.store.CleanUp() }

// valueEntry is an entry holding v that lives for an hour of real time.
func valueEntry(v string) cache.Entry {
	return cache.Entry{Value: v, FreshUntil: time.Now().Add(time.Hour).UnixNano()}
}
