package memory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

// settle runs the store's maintenance until it has nothing left to evict
// (bounded, so a bug fails the test instead of hanging it).
func settle(t *testing.T, l *Layer) {
	t.Helper()
	for range 100 {
		cleanUp(l)
		if l.store.IsWeighted() && l.store.WeightedSize() <= l.store.GetMaximum() ||
			!l.store.IsWeighted() && uint64(l.store.EstimatedSize()) <= l.store.GetMaximum() {
			return
		}
	}
	t.Fatalf("store still above its maximum after 100 clean-ups: %d entries, weight %d, maximum %d",
		l.store.EstimatedSize(), l.store.WeightedSize(), l.store.GetMaximum())
}

func payloadEntry(n int) cache.Entry {
	e := valueEntry("v")
	e.Payload = []byte(strings.Repeat("x", n))
	return e
}

func TestBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		opts        Options
		payload     int // bytes per entry
		inserts     int
		wantEntries int // at most
	}{
		// 10,000 entries of about 1 KiB into 64 KiB: fewer than 64 remain.
		{"ByBytes", Options{MaxBytes: 64 << 10, MaxEntries: 1 << 20}, 1 << 10, 10_000, 64},
		// Tiny entries: MaxEntries still holds when MaxBytes is set.
		{"ByEntriesUnderMaxBytes", Options{MaxBytes: 1 << 20, MaxEntries: 10}, 1, 1000, 10},
		{"ByEntries", Options{MaxEntries: 10}, 1, 1000, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLayer(t, tc.opts)
			ctx := context.Background()
			for i := range tc.inserts {
				if err := l.Set(ctx, fmt.Sprintf("key:%d", i), payloadEntry(tc.payload)); err != nil {
					t.Fatalf("Set(key:%d): %v", i, err)
				}
			}
			settle(t, l)
			if tc.opts.MaxBytes > 0 {
				if w := l.store.WeightedSize(); w > uint64(tc.opts.MaxBytes) {
					t.Errorf("charged bytes = %d, want at most MaxBytes %d", w, tc.opts.MaxBytes)
				}
			}
			n := 0
			if err := l.Scan(ctx, "", func(string) bool { n++; return true }); err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if n == 0 || n > tc.wantEntries {
				t.Errorf("%d entries after %d inserts, want 1 to %d", n, tc.inserts, tc.wantEntries)
			}
		})
	}
}

func TestCharge(t *testing.T) {
	t.Parallel()
	l := newLayer(t, Options{MaxBytes: 1 << 20, MaxEntries: 1 << 20})
	ctx := context.Background()
	e := payloadEntry(100)
	e.Tags = []string{"ab", "cde"}
	if err := l.Set(ctx, "key", e); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, ok := l.store.GetEntryQuietly("key")
	want := uint32(len("key") + 100 + len("ab") + len("cde") + 2*tagOverhead + EntryOverhead)
	if !ok || got.Weight != want {
		t.Errorf("charge of a 3-byte key, 100-byte payload and tags ab, cde = %d (found %v), want %d",
			got.Weight, ok, want)
	}
}

func TestSetOfEntryLargerThanMaxBytes(t *testing.T) {
	t.Parallel()
	const maxBytes = 4 << 10
	l := newLayer(t, Options{MaxBytes: maxBytes})
	ctx := context.Background()
	if err := l.Set(ctx, "k", payloadEntry(10)); err != nil {
		t.Fatalf("Set(small): %v", err)
	}
	err := l.Set(ctx, "k", payloadEntry(maxBytes))
	if !errors.Is(err, cache.ErrTooLarge) || !strings.HasPrefix(err.Error(), "memory layer: ") {
		t.Fatalf("Set(entry over MaxBytes) = %v, want a memory layer error wrapping cache.ErrTooLarge", err)
	}
	if _, ok, _ := l.Get(ctx, "k"); ok {
		t.Error("the previous entry survived a Set that was refused as too large")
	}
	err = l.SetMany(ctx, []cache.Item{{Key: "a", Entry: payloadEntry(maxBytes)}, {Key: "b", Entry: payloadEntry(1)}})
	if !errors.Is(err, cache.ErrTooLarge) {
		t.Errorf("SetMany with one entry over MaxBytes = %v, want cache.ErrTooLarge", err)
	}
	if _, ok, _ := l.Get(ctx, "b"); !ok {
		t.Error("SetMany did not store the entry that fits after one that did not")
	}
}

// TestScanResistance shows that a hot set that is read often survives a
// pass over many more cold keys than the layer holds. The hot keys are read
// throughout, but each only once per 5 × capacity cold writes, so an LRU
// would have evicted every one of them between two of its reads. W-TinyLFU
// admits a newcomer only if it is used more often than the entry it would
// evict, so the cold keys, written once, do not displace them.
func TestScanResistance(t *testing.T) {
	t.Parallel()
	const (
		capacity = 1000
		hot      = 100
		cold     = 20 * capacity
		// one hot read per coldPerHotRead cold writes: every hot key is
		// read once per hot*coldPerHotRead = 5*capacity cold writes
		coldPerHotRead = 50
	)
	l := newLayer(t, Options{MaxEntries: capacity})
	ctx := context.Background()
	set := func(key string) {
		if err := l.Set(ctx, key, valueEntry(key)); err != nil {
			t.Fatalf("Set(%q): %v", key, err)
		}
	}
	hotKey := func(i int) string { return fmt.Sprintf("hot:%d", i%hot) }
	// Fill the layer exactly: the store starts counting reads only once it
	// is half full, and nothing is evicted (or refused admission) yet.
	for i := range capacity - hot {
		set(fmt.Sprintf("warm:%d", i))
	}
	for i := range hot {
		set(hotKey(i))
	}
	// Make the hot set hot. Reads are recorded in a lossy buffer that
	// maintenance drains; draining after each round makes sure they count.
	for range 10 {
		for i := range hot {
			_, _, _ = l.Get(ctx, hotKey(i))
		}
		cleanUp(l)
	}
	// One pass over cold keys, each written once, while the hot set keeps
	// being read.
	for i := range cold {
		set(fmt.Sprintf("cold:%d", i))
		if i%coldPerHotRead == 0 {
			_, _, _ = l.Get(ctx, hotKey(i/coldPerHotRead))
		}
	}
	settle(t, l)

	survivors := 0
	for i := range hot {
		if _, ok, _ := l.Get(ctx, hotKey(i)); ok {
			survivors++
		}
	}
	// An LRU would keep only the hot keys read during the last capacity
	// cold writes: capacity/coldPerHotRead = 20 of them.
	if survivors < hot*8/10 {
		t.Errorf("%d of %d hot keys survived a scan of %d cold keys (capacity %d), want at least 80%%",
			survivors, hot, cold, capacity)
	}
}
