package cache_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
)

// present reports which of keys Get finds without fetching.
func present(t *testing.T, v *cache.View[string], keys ...string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, k := range keys {
		_, err := v.Get(context.Background(), k, nil)
		switch {
		case err == nil:
			out[k] = true
		case errors.Is(err, cache.ErrMiss):
		default:
			t.Fatalf("Get(%q): %v", k, err)
		}
	}
	return out
}

func TestInvalidateTagsAnyAndAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		tags  []string
		match cache.TagMatch
		gone  []string
	}{
		{"one tag", []string{"users"}, cache.MatchAny, []string{"u1", "u2"}},
		{"any of two", []string{"users", "orders"}, cache.MatchAny, []string{"u1", "u2", "o1"}},
		{"all of two", []string{"users", "vip"}, cache.MatchAll, []string{"u2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l1, l2 := newMemory(t, "l1", nil), newMemory(t, "l2", nil)
			s := newStack(t, cache.Options{}, l1, l2)
			v := cache.Typed[string](s)
			must(t, v.Set(ctx, "u1", "x", cache.Tags("users")))
			must(t, v.Set(ctx, "u2", "x", cache.Tags("users", "vip")))
			must(t, v.Set(ctx, "o1", "x", cache.Tags("orders")))
			must(t, v.Set(ctx, "plain", "x"))
			n, err := s.InvalidateTags(ctx, tc.tags, tc.match)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tc.gone) {
				t.Errorf("removed %d keys, want %d", n, len(tc.gone))
			}
			left := present(t, v, "u1", "u2", "o1", "plain")
			for _, k := range tc.gone {
				if left[k] {
					t.Errorf("%s survived the invalidation", k)
				}
				delete(left, k)
			}
			if len(left) != 4-len(tc.gone) {
				t.Errorf("keys left = %v, want every key but %v", left, tc.gone)
			}
			// Nothing survives in a slower layer either.
			for _, k := range tc.gone {
				if _, ok, _ := l2.Get(ctx, k); ok {
					t.Errorf("%s still in l2", k)
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReSetReplacesTagAssociations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t, cache.Options{})
	v := cache.Typed[string](s)
	must(t, v.Set(ctx, "k", "v1", cache.Tags("old")))
	must(t, v.Set(ctx, "k", "v2")) // re-set without tags drops "old"
	if n, err := s.InvalidateTag(ctx, "old"); err != nil || n != 0 {
		t.Fatalf("InvalidateTag(old) = %d, %v; want 0 (the association was replaced)", n, err)
	}
	if !present(t, v, "k")["k"] {
		t.Fatal("k was removed by a tag it no longer carries")
	}
}

func TestTagAssociationsExpireWithTheirKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock})
	v := cache.Typed[string](s)
	must(t, v.Set(ctx, "short", "v", cache.Tags("t"), cache.TTL(time.Second)))
	must(t, v.Set(ctx, "long", "v", cache.Tags("t"), cache.TTL(time.Hour)))
	clock.Advance(time.Minute)
	n, err := s.InvalidateTag(ctx, "t")
	if err != nil || n != 1 {
		t.Fatalf("InvalidateTag = %d, %v; want 1 (the expired key is no longer indexed)", n, err)
	}
}

func TestFetchedValuesCarryTheirTags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t, cache.Options{})
	v := cache.Typed[string](s)
	if _, err := v.Get(ctx, "k", func(context.Context) (string, error) { return "v", nil }, cache.Tags("fetched")); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.InvalidateTag(ctx, "fetched"); n != 1 {
		t.Fatalf("InvalidateTag(fetched) removed %d keys, want 1", n)
	}
}

func TestLargeInvalidationsRunInBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t, cache.Options{})
	v := cache.Typed[int](s)
	const n = 2345 // several batches of 500
	items := make([]cache.KeyValue[int], n)
	for i := range items {
		items[i] = cache.KeyValue[int]{Key: fmt.Sprintf("bulk:%d", i), Value: i}
	}
	must(t, v.SetMany(ctx, items, cache.Tags("bulk")))
	if got, err := s.InvalidateTag(ctx, "bulk"); err != nil || got != n {
		t.Fatalf("InvalidateTag = %d, %v; want %d", got, err, n)
	}
	must(t, v.SetMany(ctx, items))
	if got, err := s.InvalidatePrefix(ctx, "bulk:"); err != nil || got != n {
		t.Fatalf("InvalidatePrefix = %d, %v; want %d", got, err, n)
	}
}

func TestPrefixAndPatternInvalidationReachEveryLayer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l1, l2 := newMemory(t, "l1", nil), newMemory(t, "l2", nil)
	s := newStack(t, cache.Options{}, l1, l2)
	v := cache.Typed[string](s)
	for _, k := range []string{"user:1:profile", "user:2:profile", "user:1:orders", "users", "team:1"} {
		must(t, v.Set(ctx, k, k))
	}
	must(t, l2.Set(ctx, "user:3:profile", cache.Entry{Value: "only-in-l2"}))

	n, err := s.InvalidatePattern(ctx, "user:?:profile")
	if err != nil || n != 3 {
		t.Fatalf("InvalidatePattern = %d, %v; want 3", n, err)
	}
	left := present(t, v, "user:1:profile", "user:2:profile", "user:3:profile", "user:1:orders", "users", "team:1")
	if len(left) != 3 || !left["user:1:orders"] || !left["users"] || !left["team:1"] {
		t.Fatalf("after pattern invalidation, present = %v", left)
	}
	if n, err := s.InvalidatePrefix(ctx, "user"); err != nil || n != 2 {
		t.Fatalf("InvalidatePrefix(user) = %d, %v; want 2", n, err)
	}
}

func TestPatternsNeverMatchOutsideTheirNamespace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := newStack(t, cache.Options{})
	a, _ := root.Namespace("a")
	b, _ := root.Namespace("b")
	must(t, cache.Typed[string](a).Set(ctx, "k1", "x"))
	must(t, cache.Typed[string](b).Set(ctx, "k1", "x"))
	must(t, cache.Typed[string](root).Set(ctx, "k1", "x"))
	if n, err := a.InvalidatePattern(ctx, "*"); err != nil || n != 1 {
		t.Fatalf("a.InvalidatePattern(*) = %d, %v; want 1", n, err)
	}
	if !present(t, cache.Typed[string](b), "k1")["k1"] || !present(t, cache.Typed[string](root), "k1")["k1"] {
		t.Fatal("a namespaced pattern removed keys outside the namespace")
	}
}

func TestBadTagsAndPatternsAreRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t, cache.Options{})
	calls := []func() error{
		func() error { _, err := s.InvalidateTag(ctx, ""); return err },
		func() error { _, err := s.InvalidateTags(ctx, nil, cache.MatchAny); return err },
		func() error { _, err := s.InvalidatePattern(ctx, "bad\x00"); return err },
		func() error { _, err := s.InvalidatePattern(ctx, `trailing\`); return err },
		func() error { _, err := s.InvalidatePrefix(ctx, ""); return err },
	}
	for i, call := range calls {
		if err := call(); !errors.Is(err, cache.ErrInvalidKey) {
			t.Errorf("call %d: error = %v, want ErrInvalidKey", i, err)
		}
	}
}

func TestExpireTagServesStaleWhileRefreshing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Hour, StaleWhileRevalidate: time.Hour})
	v := cache.Typed[string](s)
	must(t, v.Set(ctx, "k", "old", cache.Tags("t")))
	must(t, v.Set(ctx, "nowindow", "x", cache.Tags("t"), cache.StaleWhileRevalidate(0)))
	if n, err := s.ExpireTag(ctx, "t"); err != nil || n != 2 {
		t.Fatalf("ExpireTag = %d, %v; want 2", n, err)
	}
	refreshed := make(chan struct{})
	s.Subscribe(func(e cache.Event) {
		if e.Type == cache.EventRefresh && e.Key == "k" {
			close(refreshed)
		}
	})
	got, err := v.Get(ctx, "k", func(context.Context) (string, error) { return "new", nil })
	if err != nil || got != "old" {
		t.Fatalf("Get after ExpireTag = %q, %v; want the stale old value", got, err)
	}
	<-refreshed
	if got, _ := v.Get(ctx, "k", nil); got != "new" {
		t.Fatalf("Get after refresh = %q, want new", got)
	}
	if present(t, v, "nowindow")["nowindow"] {
		t.Error("an expired entry without a stale window is still served")
	}
}

func TestInvalidationFencesSlowFetches(t *testing.T) {
	t.Parallel()
	ops := map[string]func(s *cache.Stack) error{
		"InvalidateTag":     func(s *cache.Stack) error { _, err := s.InvalidateTag(context.Background(), "t"); return err },
		"InvalidatePrefix":  func(s *cache.Stack) error { _, err := s.InvalidatePrefix(context.Background(), "k"); return err },
		"InvalidatePattern": func(s *cache.Stack) error { _, err := s.InvalidatePattern(context.Background(), "k*"); return err },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, cache.Options{})
			v := cache.Typed[string](s)
			must(t, v.Set(context.Background(), "k", "cached", cache.Tags("t")))
			must(t, s.Delete(context.Background(), "k")) // force a fetch, keep nothing
			must(t, v.Set(context.Background(), "k2", "x", cache.Tags("t")))
			release := make(chan struct{})
			result := slowFetch(t, v, "k", "from-before-invalidation", release)
			// The running fetch tagged k with t when it started; make the
			// invalidation cover k by tag and by prefix alike.
			must(t, v.Set(context.Background(), "k3", "x", cache.Tags("t")))
			must(t, op(s))
			close(release)
			<-result
			wantMiss(t, v)
		})
	}
}

func TestBumpGenerationInvalidatesEverythingAndCleansUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mem := newMemory(t, "m", nil)
	s := newStack(t, cache.Options{Generations: &cache.Generations{Cleanup: true}}, mem)
	v := cache.Typed[string](s)
	must(t, v.Set(ctx, "k", "gen0"))
	if _, ok, _ := mem.Get(ctx, "v0:k"); !ok {
		t.Fatal("with generations on, k is not stored as v0:k")
	}
	g, err := s.BumpGeneration(ctx)
	if err != nil || g != 1 {
		t.Fatalf("BumpGeneration = %d, %v; want 1", g, err)
	}
	if present(t, v, "k")["k"] {
		t.Fatal("k is still served after a generation bump")
	}
	must(t, v.Set(ctx, "k", "gen1"))
	if got, _ := v.Get(ctx, "k", nil); got != "gen1" {
		t.Fatalf("Get = %q, want gen1", got)
	}
	// The old generation is swept in the background.
	for {
		if _, ok, _ := mem.Get(ctx, "v0:k"); !ok {
			break
		}
		if t.Context().Err() != nil {
			t.Fatal("v0:k was never cleaned up")
		}
		runtime.Gosched()
	}
}

func TestLiteralPatternMatchesOnlyThatKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t, cache.Options{})
	v := cache.Typed[string](s)
	for _, k := range []string{"user:1", "user:10", "user:1:x"} {
		must(t, v.Set(ctx, k, k))
	}
	if n, err := s.InvalidatePattern(ctx, "user:1"); err != nil || n != 1 {
		t.Fatalf("InvalidatePattern(user:1) = %d, %v; want 1", n, err)
	}
	if left := present(t, v, "user:1", "user:10", "user:1:x"); len(left) != 2 || left["user:1"] {
		t.Fatalf("present after literal pattern = %v", left)
	}
}
