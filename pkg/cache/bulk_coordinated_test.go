package cache_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisflight"
)

// coordinatedInstance is one instance of a service: its own memory layer
// and coordinator in front of a shared Redis layer.
func coordinatedInstance(t *testing.T, client redis.UniversalClient, prefix string) (*cache.Stack, *cache.View[string]) {
	t.Helper()
	coord, err := redisflight.New(redisflight.Options{Client: client, Prefix: prefix + "flight:"})
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, cache.Options{TTL: time.Hour, Coordinator: coord},
		newMemory(t, "memory", nil), newRedisLayer(t, client, prefix+"data:"))
	return s, cache.Typed[string](s)
}

// valuesOf is a bulk fetcher's answer: "v:" and the key, for every key.
func valuesOf(keys []string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = "v:" + k
	}
	return out
}

func TestGetManyAcrossInstancesFetchesEachKeyOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	sa, va := coordinatedInstance(t, srv.NewClient(t), prefix)
	sb, vb := coordinatedInstance(t, srv.NewClient(t), prefix)
	ctx := t.Context()

	var logA, logB askLog
	entered, release := make(chan struct{}), make(chan struct{})
	doneA := make(chan map[string]string, 1)
	go func() {
		got, err := va.GetMany(ctx, []string{"a", "b"}, func(_ context.Context, keys []string) (map[string]string, error) {
			logA.add(keys)
			close(entered)
			<-release
			return valuesOf(keys), nil
		})
		if err != nil {
			t.Error(err)
		}
		doneA <- got
	}()
	<-entered // A holds the leases of a and b
	doneB := make(chan map[string]string, 1)
	go func() {
		got, err := vb.GetMany(ctx, []string{"b", "c"}, func(_ context.Context, keys []string) (map[string]string, error) {
			// B claimed every key before fetching its own: b is A's, so B
			// waits for it; A may finish now.
			logB.add(keys)
			close(release)
			return valuesOf(keys), nil
		})
		if err != nil {
			t.Error(err)
		}
		doneB <- got
	}()
	if got, want := <-doneA, map[string]string{"a": "v:a", "b": "v:b"}; !maps.Equal(got, want) {
		t.Errorf("instance A = %v, want %v", got, want)
	}
	if got, want := <-doneB, map[string]string{"b": "v:b", "c": "v:c"}; !maps.Equal(got, want) {
		t.Errorf("instance B = %v, want %v", got, want)
	}
	if got, want := logA.calls(), [][]string{{"a", "b"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("instance A fetched %v, want %v", got, want)
	}
	if got, want := logB.calls(), [][]string{{"c"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("instance B fetched %v, want %v (b was being fetched by A)", got, want)
	}
	if n := sb.Stats().RemoteResults; n != 1 {
		t.Errorf("instance B received %d results from another instance, want 1 (b)", n)
	}
	if n := sa.Stats().RemoteResults; n != 0 {
		t.Errorf("instance A received %d results from another instance, want 0", n)
	}
}

func TestGetManyFetchesAloneWhenTheCoordinatorIsUnreachable(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: every claim fails at once.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() })
	coord, err := redisflight.New(redisflight.Options{Client: client, Prefix: "unreachable:"})
	if err != nil {
		t.Fatal(err)
	}
	s := newStack(t, cache.Options{TTL: time.Hour, Coordinator: coord})
	v := cache.Typed[string](s)
	var log askLog
	got, err := v.GetMany(t.Context(), []string{"x", "y"}, func(_ context.Context, keys []string) (map[string]string, error) {
		log.add(keys)
		return valuesOf(keys), nil
	})
	if want := map[string]string{"x": "v:x", "y": "v:y"}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("GetMany = %v, %v; want %v", got, err, want)
	}
	if calls, want := log.calls(), [][]string{{"x", "y"}}; !slices.EqualFunc(calls, want, slices.Equal) {
		t.Errorf("fetched %v, want %v (one call for the keys whose coordination failed)", calls, want)
	}
	if n := s.Stats().CoordinatorErrors; n != 2 {
		t.Errorf("coordinator errors = %d, want 2", n)
	}
}
