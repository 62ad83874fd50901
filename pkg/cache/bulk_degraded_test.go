package cache_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
)

var errLayerDown = errors.New("layer down")

// faultyLayer wraps a layer, counts the reads and writes that reach it and
// fails them while down is set.
type faultyLayer struct {
	cache.Layer
	down  atomic.Bool
	calls atomic.Int32 // Get, GetMany, Set and SetMany calls
}

func (f *faultyLayer) fail() error {
	f.calls.Add(1)
	if f.down.Load() {
		return errLayerDown
	}
	return nil
}

func (f *faultyLayer) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	if err := f.fail(); err != nil {
		return cache.Entry{}, false, err
	}
	return f.Layer.Get(ctx, key)
}

func (f *faultyLayer) GetMany(ctx context.Context, keys []string) ([]cache.Entry, []bool, error) {
	if err := f.fail(); err != nil {
		return nil, nil, err
	}
	return f.Layer.GetMany(ctx, keys)
}

func (f *faultyLayer) Set(ctx context.Context, key string, e cache.Entry) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Layer.Set(ctx, key, e)
}

func (f *faultyLayer) SetMany(ctx context.Context, items []cache.Item) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Layer.SetMany(ctx, items)
}

func TestGetManySkipsDegradedLayersAsGetDoes(t *testing.T) {
	t.Parallel()
	// One layer fails, and a Get marks it degraded. While it is, GetMany
	// neither reads nor backfills it, so no further failure is recorded
	// against it. k is only in the healthy layer.
	for _, tc := range []struct {
		name        string
		faultyFirst bool // the degraded layer is l1 (else l2)
		want        string
	}{
		{"degraded slower layer: not read, k is fetched", false, "fetched"},
		{"degraded faster layer: not read, not backfilled", true, "cached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := cachetest.NewManualClock()
			l1, l2 := newMemory(t, "l1", clock), newMemory(t, "l2", clock)
			ctx := context.Background()
			var faulty *faultyLayer
			var layers []cache.Layer
			if tc.faultyFirst {
				faulty = &faultyLayer{Layer: l1}
				layers = []cache.Layer{faulty, l2}
				must(t, l2.Set(ctx, "k", cache.Entry{Value: "cached"}))
			} else {
				faulty = &faultyLayer{Layer: l2}
				layers = []cache.Layer{l1, faulty}
			}
			s := newStack(t, cache.Options{Clock: clock, DegradeFor: time.Minute}, layers...)
			v := cache.Typed[string](s)
			faulty.down.Store(true)
			if _, err := v.Get(ctx, "x", nil); !errors.Is(err, cache.ErrMiss) {
				t.Fatalf("Get with a failing layer = %v, want ErrMiss", err)
			}
			if d, want := s.DegradedLayers(), faulty.Info().Name; !slices.Equal(d, []string{want}) {
				t.Fatalf("DegradedLayers = %v, want [%s]", d, want)
			}
			calls, errs := faulty.calls.Load(), s.Stats().LayerErrors

			got, err := v.GetMany(ctx, []string{"k"}, func(context.Context, []string) (map[string]string, error) {
				return map[string]string{"k": "fetched"}, nil
			})
			if want := map[string]string{"k": tc.want}; err != nil || !maps.Equal(got, want) {
				t.Fatalf("GetMany = %v, %v; want %v", got, err, want)
			}
			if n := faulty.calls.Load() - calls; n != 0 {
				t.Errorf("GetMany made %d calls to the degraded layer, want none", n)
			}
			if n := s.Stats().LayerErrors - errs; n != 0 {
				t.Errorf("GetMany recorded %d more layer errors, want none", n)
			}
		})
	}
}
