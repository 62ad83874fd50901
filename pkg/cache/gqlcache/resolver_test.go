package gqlcache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/gqlcache"
)

type viewerKey struct{}

func withViewer(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

func viewer(ctx context.Context) string {
	v, _ := ctx.Value(viewerKey{}).(string)
	return v
}

type orderArgs struct {
	ID string
}

func TestResolver(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	var calls atomic.Int32
	orders, err := gqlcache.Resolver(cache.Typed[string](s), "order",
		func(ctx context.Context, a orderArgs) (string, error) {
			v := viewer(ctx)
			switch v {
			case "":
				return "", gqlcache.ErrUncached
			case "mallory":
				return "", errors.New("banned")
			}
			return v + ":" + a.ID, nil
		},
		func(ctx context.Context, a orderArgs) (string, error) {
			return fmt.Sprintf("order %s for %s (%d)", a.ID, viewer(ctx), calls.Add(1)), nil
		},
		cache.TTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		viewer, id string
		want       string
		wantErr    string
	}{
		{"ann", "1", "order 1 for ann (1)", ""},
		{"ann", "1", "order 1 for ann (1)", ""},
		{"bob", "1", "order 1 for bob (2)", ""},
		{"ann", "2", "order 2 for ann (3)", ""},
		{"", "1", "order 1 for  (4)", ""}, // uncached
		{"", "1", "order 1 for  (5)", ""},
		{"mallory", "1", "", "banned"},
	}
	for i, tc := range tests {
		got, err := orders(withViewer(t.Context(), tc.viewer), orderArgs{ID: tc.id})
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("call %d as %q for %s: got %q, %v; want %q, error %q", i, tc.viewer, tc.id, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestResolverNeedsAKey(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	v := cache.Typed[int](s)
	key := func(context.Context, int) (string, error) { return "k", nil }
	fn := func(context.Context, int) (int, error) { return 1, nil }
	tests := []struct {
		name   string
		view   *cache.View[int]
		prefix string
		key    func(context.Context, int) (string, error)
		fn     func(context.Context, int) (int, error)
		opts   []cache.Option
		want   string
	}{
		{"valid", v, "p", key, fn, nil, ""},
		{"no key", v, "p", nil, fn, nil, "requires a key function"},
		{"no fn", v, "p", key, nil, nil, "resolver function"},
		{"no view", nil, "p", key, fn, nil, "cache.View"},
		{"empty prefix", v, "", key, fn, nil, "prefix"},
		{"bad option", v, "p", key, fn, []cache.Option{cache.TTL(-time.Second)}, "options"},
	}
	for _, tc := range tests {
		_, err := gqlcache.Resolver(tc.view, tc.prefix, tc.key, tc.fn, tc.opts...)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Resolver returned %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestEmptyKeyIsAnError(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	r, err := gqlcache.Resolver(cache.Typed[int](s), "p",
		func(context.Context, int) (string, error) { return "", nil },
		func(context.Context, int) (int, error) { t.Error("the resolver ran"); return 0, nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r(t.Context(), 1); err == nil || !strings.Contains(err.Error(), "empty key") {
		t.Errorf("got %v, want an empty-key error", err)
	}
}

func TestStampede(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := cachetest.NewStack(t, cache.Options{})
		var calls atomic.Int32
		release := make(chan struct{})
		r, err := gqlcache.Resolver(cache.Typed[int](s), "slow",
			func(_ context.Context, n int) (string, error) { return fmt.Sprint(n), nil },
			func(_ context.Context, n int) (int, error) {
				calls.Add(1)
				<-release
				return n * 2, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if got, err := r(t.Context(), 21); got != 42 || err != nil {
					t.Errorf("got %d, %v; want 42", got, err)
				}
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("resolver ran %d times for 10 concurrent calls, want 1", n)
		}
	})
}

// TestRefreshKeepsFieldContext checks that a background refresh, which runs
// after the GraphQL request ended, still sees gqlgen's field context and
// the viewer.
func TestRefreshKeepsFieldContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, clock := cachetest.NewStack(t, cache.Options{})
		var calls atomic.Int32
		release := make(chan struct{})
		r, err := gqlcache.Resolver(cache.Typed[string](s), "field",
			func(ctx context.Context, id string) (string, error) { return viewer(ctx) + ":" + id, nil },
			func(ctx context.Context, id string) (string, error) {
				n := calls.Add(1)
				if n == 2 {
					<-release
				}
				fc := graphql.GetFieldContext(ctx)
				if fc == nil {
					return "", errors.New("no field context")
				}
				return fmt.Sprintf("%s(%v) for %s v%d", fc.Object, fc.Args["id"], viewer(ctx), n), nil
			},
			cache.TTL(time.Minute), cache.StaleWhileRevalidate(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		call := func() string {
			ctx, cancel := context.WithCancel(withViewer(t.Context(), "ann"))
			defer cancel() // the request ends when the call returns
			fc := &graphql.FieldContext{Object: "Query", Args: map[string]any{"id": "7"}}
			got, err := r(graphql.WithFieldContext(ctx, fc), "7")
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			return got
		}
		steps := []struct {
			name, want string
			before     func()
		}{
			{"fill", "Query(7) for ann v1", nil},
			{"stale", "Query(7) for ann v1", func() { clock.Advance(90 * time.Second) }},
			{"refreshed", "Query(7) for ann v2", func() { close(release); synctest.Wait() }},
		}
		for _, st := range steps {
			if st.before != nil {
				st.before()
			}
			if got := call(); got != st.want {
				t.Errorf("%s: got %q, want %q", st.name, got, st.want)
			}
		}
	})
}
