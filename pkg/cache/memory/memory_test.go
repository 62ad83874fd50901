package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layertest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	configs := []struct {
		name string
		opts Options
	}{
		{"BoundedByEntries", Options{}},
		{"BoundedByBytes", Options{MaxBytes: 64 << 20}},
	}
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			layertest.Run(t, func(t *testing.T) cache.Layer { return newLayer(t, tc.opts) })
		})
	}
}

func TestGetDoesNotAllocate(t *testing.T) {
	configs := []struct {
		name string
		opts Options
	}{
		{"BoundedByEntries", Options{}},
		{"BoundedByBytes", Options{MaxBytes: 1 << 20}},
		{"InjectedClock", Options{Clock: newFakeClock()}},
	}
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			l := newLayer(t, tc.opts)
			ctx := context.Background()
			e := cache.Entry{Value: "v", Payload: []byte("v"), Tags: []string{"t"}, FreshUntil: l.clock.NowNano() + 3600e9}
			if err := l.Set(ctx, "hit", e); err != nil {
				t.Fatalf("Set: %v", err)
			}
			for _, key := range []string{"hit", "miss"} {
				allocs := testing.AllocsPerRun(1000, func() {
					_, _, _ = l.Get(ctx, key)
				})
				if allocs != 0 {
					t.Errorf("Get(%q) allocates %v times per call, want 0", key, allocs)
				}
			}
		})
	}
}

func TestGetReturnsEntryWithoutPayload(t *testing.T) {
	t.Parallel()
	l := newLayer(t, Options{MaxBytes: 1 << 20})
	ctx := context.Background()
	in := valueEntry("decoded")
	in.Payload = []byte(`"decoded"`)
	in.Tags = []string{"a", "b"}
	in.ErrorUntil = in.FreshUntil + 1
	if err := l.Set(ctx, "k", in); err != nil {
		t.Fatalf("Set: %v", err)
	}
	out, ok, err := l.Get(ctx, "k")
	if err != nil || !ok {
		t.Fatalf("Get(k) = found %v, err %v; want true, nil", ok, err)
	}
	if out.Payload != nil {
		t.Errorf("Get(k).Payload = %q, want nil: the layer must not keep payloads", out.Payload)
	}
	want := in
	want.Payload = nil
	if out.Value != want.Value || out.FreshUntil != want.FreshUntil || out.ErrorUntil != want.ErrorUntil ||
		len(out.Tags) != 2 || out.Tags[0] != "a" || out.Tags[1] != "b" {
		t.Errorf("Get(k) = %+v, want %+v", out, want)
	}
}

func TestInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		want cache.LayerInfo
	}{
		{"Defaults", Options{}, cache.LayerInfo{Name: "memory", Values: true}},
		{"Named", Options{Name: "l1"}, cache.LayerInfo{Name: "l1", Values: true}},
		{"BoundedByBytes", Options{MaxBytes: 1 << 20}, cache.LayerInfo{Name: "memory", Values: true, NeedsPayload: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := newLayer(t, tc.opts).Info(); got != tc.want {
				t.Errorf("New(%+v).Info() = %+v, want %+v", tc.opts, got, tc.want)
			}
		})
	}
}

func TestOperationsAfterCloseFail(t *testing.T) {
	t.Parallel()
	l, err := New(Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := context.Background()
	if err := l.Set(ctx, "k", valueEntry("v")); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := l.store.EstimatedSize(); n != 0 {
		t.Errorf("entries after Close = %d, want 0", n)
	}
	ops := map[string]func() error{
		"Get":        func() error { _, _, err := l.Get(ctx, "k"); return err },
		"GetMany":    func() error { _, _, err := l.GetMany(ctx, []string{"k"}); return err },
		"Set":        func() error { return l.Set(ctx, "k", valueEntry("v")) },
		"SetMany":    func() error { return l.SetMany(ctx, []cache.Item{{Key: "k", Entry: valueEntry("v")}}) },
		"Delete":     func() error { return l.Delete(ctx, "k") },
		"DeleteMany": func() error { return l.DeleteMany(ctx, []string{"k"}) },
		"Scan":       func() error { return l.Scan(ctx, "", func(string) bool { return true }) },
		"Clear":      func() error { return l.Clear(ctx) },
		"Ping":       func() error { return l.Ping(ctx) },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestScanStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	l := newLayer(t, Options{})
	for i := range 4 * scanCheckEvery {
		if err := l.Set(context.Background(), fmt.Sprintf("k%d", i), valueEntry("v")); err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	tests := []struct {
		name        string
		cancelAfter int // fn calls before the context is cancelled; 0: before Scan
		maxVisited  int
	}{
		{"CancelledBefore", 0, 0},
		{"CancelledDuring", 1, scanCheckEvery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelAfter == 0 {
				cancel()
			}
			visited := 0
			err := l.Scan(ctx, "", func(string) bool {
				if visited++; visited == tc.cancelAfter {
					cancel()
				}
				return true
			})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Scan = %v, want context.Canceled", err)
			}
			if visited > tc.maxVisited {
				t.Errorf("Scan visited %d of %d keys, want at most %d", visited, 4*scanCheckEvery, tc.maxVisited)
			}
		})
	}
}

func TestScanCallbackMayDeleteKeys(t *testing.T) {
	t.Parallel()
	l := newLayer(t, Options{})
	ctx := context.Background()
	for i := range 100 {
		if err := l.Set(ctx, fmt.Sprintf("drop:%d", i), valueEntry("v")); err != nil {
			t.Fatalf("Set: %v", err)
		}
	}
	if err := l.Set(ctx, "keep", valueEntry("v")); err != nil {
		t.Fatalf("Set: %v", err)
	}
	err := l.Scan(ctx, "drop:", func(k string) bool {
		if err := l.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q) inside Scan: %v", k, err)
		}
		return true
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	var left []string
	if err := l.Scan(ctx, "", func(k string) bool { left = append(left, k); return true }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if len(left) != 1 || left[0] != "keep" {
		t.Errorf("keys after deleting drop:* during Scan = %v, want [keep]", left)
	}
}

// TestConcurrentUse exercises every method from many goroutines; run it
// with -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	l := newLayer(t, Options{MaxEntries: 64, MaxBytes: 64 << 10})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprintf("k%d", (g*31+i)%100)
				e := valueEntry(key)
				e.Payload = []byte(key)
				switch i % 7 {
				case 0:
					_ = l.Delete(ctx, key)
				case 1:
					_ = l.Scan(ctx, "k1", func(string) bool { return true })
				case 2:
					_, _, _ = l.GetMany(ctx, []string{key, "k1"})
				case 3:
					_ = l.SetMany(ctx, []cache.Item{{Key: key, Entry: e}})
				default:
					_ = l.Set(ctx, key, e)
					if got, ok, err := l.Get(ctx, key); err != nil || (ok && got.Value != key) {
						t.Errorf("Get(%q) = %v, %v, %v", key, got.Value, ok, err)
					}
				}
			}
		})
	}
	wg.Wait()
}
