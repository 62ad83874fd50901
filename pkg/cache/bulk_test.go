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

func TestGetManyReadsEachLayerOnceAndFetchesOnlyTheMissing(t *testing.T) {
	t.Parallel()
	l1, l2 := newMemory(t, "l1", nil), newMemory(t, "l2", nil)
	s := newStack(t, cache.Options{}, l1, l2)
	v := cache.Typed[int](s)
	ctx := context.Background()
	if err := v.Set(ctx, "a", 1); err != nil {
		t.Fatal(err)
	}
	if err := l2.Set(ctx, "b", cache.Entry{Value: 2}); err != nil { // only in L2
		t.Fatal(err)
	}
	var asked []string
	var calls atomic.Int32
	got, err := v.GetMany(ctx, []string{"a", "b", "c", "d", "a"}, func(_ context.Context, keys []string) (map[string]int, error) {
		calls.Add(1)
		asked = slices.Clone(keys)
		return map[string]int{"c": 3, "zzz": 99}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"a": 1, "b": 2, "c": 3}; !maps.Equal(got, want) {
		t.Fatalf("GetMany = %v, want %v", got, want)
	}
	if calls.Load() != 1 || !slices.Equal(asked, []string{"c", "d"}) {
		t.Fatalf("fetcher called %d times with %v; want once with [c d]", calls.Load(), asked)
	}
	if e, ok, _ := l1.Get(ctx, "b"); !ok || e.Value != 2 {
		t.Error("b was not backfilled into l1")
	}
	if _, ok, _ := l2.Get(ctx, "c"); !ok {
		t.Error("fetched c was not stored in l2")
	}
	if _, ok, _ := l1.Get(ctx, "zzz"); ok {
		t.Error("a value the caller did not ask for was stored")
	}
	st := s.Stats()
	if st.Hits != 2 || st.Misses != 2 || st.Fetches != 1 || st.Backfills != 1 {
		t.Errorf("stats: hits %d misses %d fetches %d backfills %d; want 2 2 1 1", st.Hits, st.Misses, st.Fetches, st.Backfills)
	}
	if st.Layers[0].Misses != 3 || st.Layers[1].Hits != 1 || st.Layers[1].Misses != 2 {
		t.Errorf("layer stats %+v: want l1 3 misses, l2 1 hit 2 misses", st.Layers)
	}
}

func TestSetManyAndDeleteMany(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	v := cache.Typed[string](s)
	ctx := context.Background()
	items := []cache.KeyValue[string]{{Key: "x", Value: "1"}, {Key: "y", Value: "2"}, {Key: "z", Value: "3"}}
	if err := v.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMany(ctx, []string{"x", "z"}); err != nil {
		t.Fatal(err)
	}
	got, err := v.GetMany(ctx, []string{"x", "y", "z"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"y": "2"}; !maps.Equal(got, want) {
		t.Fatalf("GetMany after DeleteMany = %v, want %v", got, want)
	}
}

func TestSetManyWithAnInvalidKeyWritesNothing(t *testing.T) {
	t.Parallel()
	v := cache.Typed[int](newStack(t, cache.Options{}))
	err := v.SetMany(context.Background(), []cache.KeyValue[int]{{Key: "good", Value: 1}, {Key: "", Value: 2}})
	if err == nil {
		t.Fatal("SetMany with an empty key succeeded")
	}
	if got, _ := v.GetMany(context.Background(), []string{"good"}, nil); len(got) != 0 {
		t.Fatalf("SetMany stored %v despite the error", got)
	}
}

func TestGetManyReturnsOnlyAskedKeysWhateverTheFetcherReturns(t *testing.T) {
	t.Parallel()
	// The fetcher returns only keys nobody asked for: nothing is stored,
	// and none of them reaches the caller (an early return once skipped
	// the filtering).
	v := cache.Typed[int](newStack(t, cache.Options{}))
	got, err := v.GetMany(context.Background(), []string{"a"}, func(context.Context, []string) (map[string]int, error) {
		return map[string]int{"b": 2}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("GetMany([a]) = %v, want nothing (the fetcher found no a)", got)
	}
}

func TestGetManyTreatsStaleIfErrorEntriesAsGetDoes(t *testing.T) {
	t.Parallel()
	// "k" is past freshness, inside its stale-if-error window: GetMany
	// fetches it (with the miss "m", when asked) and serves the old value
	// only when the fetch fails, as Get does. The error stands only for a
	// key with no old value to fall back on.
	up := func(context.Context, []string) (map[string]int, error) { return map[string]int{"k": 2, "m": 3}, nil }
	down := func(context.Context, []string) (map[string]int, error) { return nil, errors.New("origin down") }
	for _, tc := range []struct {
		name    string
		keys    []string
		fetch   cache.BulkFetcher[int]
		want    map[string]int
		wantErr bool
	}{
		{"fetch succeeds", []string{"k", "m"}, up, map[string]int{"k": 2, "m": 3}, false},
		{"fetch fails", []string{"k", "m"}, down, map[string]int{"k": 1}, true},
		{"fetch fails, every key has an old value", []string{"k"}, down, map[string]int{"k": 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := cachetest.NewManualClock()
			s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute, StaleIfError: time.Hour})
			v := cache.Typed[int](s)
			ctx := context.Background()
			if err := v.Set(ctx, "k", 1); err != nil {
				t.Fatal(err)
			}
			clock.Advance(2 * time.Minute)
			var asked []string
			got, err := v.GetMany(ctx, tc.keys, func(ctx context.Context, keys []string) (map[string]int, error) {
				asked = slices.Clone(keys)
				return tc.fetch(ctx, keys)
			})
			if !slices.Equal(asked, tc.keys) {
				t.Errorf("fetcher asked for %v, want %v", asked, tc.keys)
			}
			if !maps.Equal(got, tc.want) || (err != nil) != tc.wantErr {
				t.Fatalf("GetMany = %v, %v; want %v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
