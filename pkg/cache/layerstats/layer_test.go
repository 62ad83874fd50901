package layerstats_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layerstats"
	"github.com/layercache/layercache/pkg/cache/layertest"
	"github.com/layercache/layercache/pkg/cache/memory"
)

func newMemory(t testing.TB, name string) *memory.Layer {
	t.Helper()
	l, err := memory.New(memory.Options{Name: name})
	if err != nil {
		t.Fatalf("memory.New: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// The wrapper must be invisible: it passes the layer conformance suite.
func TestConformance(t *testing.T) {
	layertest.Run(t, func(t *testing.T) cache.Layer {
		return layerstats.Wrap(newMemory(t, "memory"))
	})
}

// slowLayer takes a fixed time per call (on the synctest clock) and fails
// when fail is set.
type slowLayer struct {
	cache.Layer // nil: only the methods below are called
	delay       time.Duration
	fail        error
}

func (s *slowLayer) Info() cache.LayerInfo { return cache.LayerInfo{Name: "slow"} }

func (s *slowLayer) Get(context.Context, string) (cache.Entry, bool, error) {
	time.Sleep(s.delay)
	return cache.Entry{}, false, s.fail
}

func (s *slowLayer) Set(context.Context, string, cache.Entry) error {
	time.Sleep(2 * s.delay)
	return s.fail
}

func TestLatencyIsMeasuredPerOperation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &slowLayer{delay: 10 * time.Millisecond}
		w := layerstats.Wrap(inner)
		ctx := context.Background()
		for range 3 {
			if _, _, err := w.Get(ctx, "k"); err != nil {
				t.Fatalf("Get: %v", err)
			}
		}
		inner.delay = 40 * time.Millisecond
		inner.fail = errors.New("boom")
		if _, _, err := w.Get(ctx, "k"); !errors.Is(err, inner.fail) {
			t.Fatalf("Get error = %v; want the layer's error passed through", err)
		}
		if err := w.Set(ctx, "k", cache.Entry{}); !errors.Is(err, inner.fail) {
			t.Fatalf("Set error = %v; want the layer's error passed through", err)
		}

		get := w.Summary(layerstats.OpGet)
		// Samples 10, 10, 10, 40 ms: mean 17.5 ms, sample variance 225 ms².
		want := layerstats.Summary{
			Count: 4, Errors: 1, Total: 70 * time.Millisecond, Mean: 17500 * time.Microsecond,
			Max: 40 * time.Millisecond, Variance: 225e-6,
		}
		if get.Count != want.Count || get.Errors != want.Errors || get.Total != want.Total ||
			get.Mean != want.Mean || get.Max != want.Max || abs(get.Variance-want.Variance) > 1e-12 {
			t.Errorf("Summary(OpGet) = %+v; want %+v", get, want)
		}
		if set := w.Summary(layerstats.OpSet); set.Count != 1 || set.Errors != 1 || set.Max != 80*time.Millisecond {
			t.Errorf("Summary(OpSet) = %+v; want Count 1, Errors 1, Max 80ms", set)
		}
		lat := w.Latency()
		if len(lat) != len(layerstats.Ops()) {
			t.Errorf("Latency() has %d kinds; want %d", len(lat), len(layerstats.Ops()))
		}
		if lat["get"] != get || lat["ping"].Count != 0 {
			t.Errorf("Latency()[get] = %+v, [ping] = %+v; want %+v and a zero count", lat["get"], lat["ping"], get)
		}
		if s := w.Summary(layerstats.Op(99)); s != (layerstats.Summary{}) {
			t.Errorf("Summary(unknown op) = %+v; want zero", s)
		}
	})
}

func TestEveryOperationIsCounted(t *testing.T) {
	mem := newMemory(t, "l1")
	w := layerstats.Wrap(mem)
	if w.Unwrap() != mem || w.Name() != "l1" || w.Info() != mem.Info() {
		t.Fatalf("Unwrap/Name/Info do not report the wrapped layer")
	}
	ctx := context.Background()
	e := cache.Entry{Value: "v"}
	calls := []func() error{
		func() error { _, _, err := w.Get(ctx, "a"); return err },
		func() error { return w.Set(ctx, "a", e) },
		func() error { return w.Delete(ctx, "a") },
		func() error { _, _, err := w.GetMany(ctx, []string{"a", "b"}); return err },
		func() error { return w.SetMany(ctx, []cache.Item{{Key: "a", Entry: e}}) },
		func() error { return w.DeleteMany(ctx, []string{"a"}) },
		func() error { return w.Scan(ctx, "", func(string) bool { return true }) },
		func() error { return w.Clear(ctx) },
		func() error { return w.Ping(ctx) },
	}
	for i, call := range calls {
		if err := call(); err != nil {
			t.Fatalf("%s: %v", layerstats.Op(i), err)
		}
	}
	for _, op := range layerstats.Ops() {
		if s := w.Summary(op); s.Count != 1 || s.Errors != 0 || s.Max < s.Mean || s.Total < s.Max {
			t.Errorf("Summary(%s) = %+v; want one call, no error, Max >= Mean, Total >= Max", op, s)
		}
	}
}

func TestWrappedLayerInStack(t *testing.T) {
	w := layerstats.Wrap(newMemory(t, "memory"))
	s, err := cache.New(context.Background(), []cache.Layer{w}, cache.Options{})
	if err != nil {
		t.Fatalf("cache.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	v := cache.Typed[string](s)
	ctx := context.Background()
	fetch := func(context.Context) (string, error) { return "value", nil }
	for range 3 {
		if got, err := v.Get(ctx, "key", fetch); err != nil || got != "value" {
			t.Fatalf("Get = %q, %v; want value", got, err)
		}
	}
	if st := s.Stats(); st.Hits != 2 || st.Misses != 1 {
		t.Errorf("Stack stats hits/misses = %d/%d; want 2/1", st.Hits, st.Misses)
	}
	if get, set := w.Summary(layerstats.OpGet), w.Summary(layerstats.OpSet); get.Count < 3 || set.Count != 1 {
		t.Errorf("layer get/set counts = %d/%d; want >= 3 gets (a cold miss reads twice) and 1 set", get.Count, set.Count)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// BenchmarkGet compares a memory-layer hit with and without the wrapper;
// the difference is the price of timing (two clock reads and one record).
func BenchmarkGet(b *testing.B) {
	mem := newMemory(b, "memory")
	ctx := context.Background()
	if err := mem.Set(ctx, "k", cache.Entry{Value: "v"}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		l    cache.Layer
	}{{"plain", mem}, {"wrapped", layerstats.Wrap(mem)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := bc.l.Get(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
