package tagindex_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/tagindex"
	"github.com/layercache/layercache/pkg/cache/tagindex/tagindextest"
)

var _ cache.TagIndex = (*tagindex.Index)(nil)

func newIndex(t testing.TB, opts tagindex.Options) *tagindex.Index {
	t.Helper()
	ix, err := tagindex.New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	return ix
}

func TestConformance(t *testing.T) {
	tagindextest.Run(t, func(t *testing.T, clock *tagindextest.Clock) cache.TagIndex {
		return newIndex(t, tagindex.Options{Clock: clock})
	})
}

func TestConformanceSmallBound(t *testing.T) {
	// A bound well above what the conformance tests track must change
	// nothing.
	tagindextest.Run(t, func(t *testing.T, clock *tagindextest.Clock) cache.TagIndex {
		return newIndex(t, tagindex.Options{Clock: clock, MaxKeys: 500})
	})
}

func TestNewOptions(t *testing.T) {
	if _, err := tagindex.New(tagindex.Options{MaxKeys: -1}); err == nil {
		t.Error("New(MaxKeys: -1) = nil error, want one")
	}
	ix := newIndex(t, tagindex.Options{})
	ctx := context.Background()
	if err := ix.Track(ctx, "k", []string{"a"}, time.Now().Add(time.Hour).UnixNano()); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, ix, false, "a"); !slices.Equal(got, []string{"k"}) {
		t.Errorf("zero Options: Keys(a) = %q, want [k]", got)
	}
}

func keysOf(t *testing.T, ix *tagindex.Index, all bool, tags ...string) []string {
	t.Helper()
	var got []string
	err := ix.Keys(context.Background(), tags, all, 1000, func(keys []string) error {
		got = append(got, keys...)
		return nil
	})
	if err != nil {
		t.Fatalf("Keys(%q): %v", tags, err)
	}
	slices.Sort(got)
	return got
}

func TestMaxKeysDropsSoonestExpiring(t *testing.T) {
	clock := tagindextest.NewClock()
	ix := newIndex(t, tagindex.Options{Clock: clock, MaxKeys: 3})
	ctx := context.Background()
	track := func(key string, expiresAt int64) {
		t.Helper()
		if err := ix.Track(ctx, key, []string{"a"}, expiresAt); err != nil {
			t.Fatalf("Track(%q): %v", key, err)
		}
	}
	track("never1", 0)
	track("hour", clock.At(time.Hour))
	track("minute", clock.At(time.Minute))
	track("never2", 0) // over the bound: "minute" expires soonest
	if got, want := keysOf(t, ix, false, "a"), []string{"hour", "never1", "never2"}; !slices.Equal(got, want) {
		t.Fatalf("after exceeding MaxKeys: Keys(a) = %q, want %q", got, want)
	}
	if got := ix.Dropped(); got != 1 {
		t.Fatalf("Dropped() = %d, want 1", got)
	}
	track("never3", 0) // then "hour"
	track("never4", 0) // then the least recently tracked of the rest
	if got, want := keysOf(t, ix, false, "a"), []string{"never2", "never3", "never4"}; !slices.Equal(got, want) {
		t.Fatalf("Keys(a) = %q, want %q", got, want)
	}
	if got := ix.Dropped(); got != 3 {
		t.Fatalf("Dropped() = %d, want 3", got)
	}

	// Expired associations make room without counting as dropped.
	track("never2", clock.At(time.Second))
	track("never3", clock.At(time.Second))
	clock.Add(time.Second)
	track("x", 0)
	track("y", 0)
	if got := ix.Dropped(); got != 3 {
		t.Fatalf("Dropped() after expired ones made room = %d, want 3", got)
	}
	if got, want := keysOf(t, ix, false, "a"), []string{"never4", "x", "y"}; !slices.Equal(got, want) {
		t.Fatalf("Keys(a) = %q, want %q", got, want)
	}
	if got := ix.Len(); got != 3 {
		t.Fatalf("Len() = %d, want 3", got)
	}
}

func TestMaxKeysHoldsUnderLoad(t *testing.T) {
	clock := tagindextest.NewClock()
	const bound = 100
	ix := newIndex(t, tagindex.Options{Clock: clock, MaxKeys: bound})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				k := fmt.Sprintf("w%d-%d", w, i)
				if err := ix.Track(ctx, k, []string{"a", fmt.Sprint("t", i%10)}, clock.At(time.Duration(i+1)*time.Second)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := ix.Len(); got != bound {
		t.Fatalf("Len() = %d after 4000 Tracks, want the bound %d", got, bound)
	}
	if got := len(keysOf(t, ix, false, "a")); got != bound {
		t.Fatalf("Keys(a) reported %d keys, want %d", got, bound)
	}
	if got := ix.Dropped(); got != 4000-bound {
		t.Fatalf("Dropped() = %d, want %d", got, 4000-bound)
	}
}

func TestExpiredPurgedLazily(t *testing.T) {
	clock := tagindextest.NewClock()
	ix := newIndex(t, tagindex.Options{Clock: clock})
	ctx := context.Background()
	for i := range 2000 {
		if err := ix.Track(ctx, fmt.Sprint("k", i), []string{"a"}, clock.At(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(time.Minute)
	if got := keysOf(t, ix, false, "a"); len(got) != 0 {
		t.Fatalf("Keys(a) after expiry = %d keys, want 0", len(got))
	}
	// Each Keys removes a bounded number of expired associations.
	if got := ix.Len(); got == 0 || got == 2000 {
		t.Fatalf("Len() after one Keys = %d, want some but not all of 2000 removed", got)
	}
	for range 10 {
		keysOf(t, ix, false, "a")
	}
	if got := ix.Len(); got != 0 {
		t.Fatalf("Len() after repeated Keys = %d, want 0", got)
	}
	if got := ix.Dropped(); got != 0 {
		t.Fatalf("Dropped() = %d, want 0: expired associations are not dropped ones", got)
	}
}

func TestTrackCopiesTags(t *testing.T) {
	ix := newIndex(t, tagindex.Options{})
	tags := []string{"a", "b"}
	if err := ix.Track(context.Background(), "k", tags, 0); err != nil {
		t.Fatal(err)
	}
	tags[0] = "z"
	if got := keysOf(t, ix, false, "a"); !slices.Equal(got, []string{"k"}) {
		t.Fatalf("after the caller changed its slice, Keys(a) = %q, want [k]", got)
	}
	if got := keysOf(t, ix, false, "z"); len(got) != 0 {
		t.Fatalf("Keys(z) = %q, want none", got)
	}
}

func BenchmarkTrack(b *testing.B) {
	ix := newIndex(b, tagindex.Options{MaxKeys: 100_000})
	ctx := context.Background()
	keys := make([]string, 200_000)
	for i := range keys {
		keys[i] = fmt.Sprint("key:", i)
	}
	tags := []string{"user:1", "team:2"}
	deadline := time.Now().Add(time.Hour).UnixNano()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := ix.Track(ctx, keys[i%len(keys)], tags, deadline); err != nil {
			b.Fatal(err)
		}
	}
}
