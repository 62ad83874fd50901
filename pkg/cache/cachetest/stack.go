package cachetest

import (
	"context"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/memory"
)

// NewStack returns a Stack built with opts over one memory layer (memory's
// defaults), and the new ManualClock that both of them read. opts.Clock is
// replaced by that clock; every other field is used as given.
//
// NewStack stops the test with tb.Fatalf if the layer or the Stack cannot be
// built. The Stack, and with it the layer, is closed when the test ends; an
// error from Close fails the test.
func NewStack(tb testing.TB, opts cache.Options) (*cache.Stack, *ManualClock) {
	tb.Helper()
	clock := NewManualClock()
	opts.Clock = clock
	l, err := memory.New(memory.Options{Clock: clock})
	if err != nil {
		tb.Fatalf("memory.New: %v", err)
	}
	s, err := cache.New(context.Background(), []cache.Layer{l}, opts)
	if err != nil {
		tb.Fatalf("cache.New: %v", err)
	}
	tb.Cleanup(func() {
		// Not tb.Context(): it is already cancelled when cleanups run, and
		// Close gives up waiting for background work once its ctx ends.
		if err := s.Close(context.Background()); err != nil {
			tb.Errorf("cache: Close: %v", err)
		}
	})
	return s, clock
}
