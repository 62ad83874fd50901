package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/redisbus"
	"github.com/layercache/layercache/pkg/cache/redisgen"
)

// busInstance is an instance with memory, the shared Redis and a bus.
func busInstance(t *testing.T, client redis.UniversalClient, prefix string, opts cache.Options) (*cache.Stack, *memory.Layer, <-chan cache.Event) {
	t.Helper()
	bus, err := redisbus.New(redisbus.Options{Client: client, Channel: prefix + "bus", Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	opts.Bus = bus
	mem := newMemory(t, "memory", nil)
	s := newStack(t, opts, mem, newRedisLayer(t, client, prefix))
	remote := make(chan cache.Event, 64)
	s.Subscribe(func(e cache.Event) {
		if e.Type == cache.EventRemoteInvalidation {
			remote <- e
		}
	})
	return s, mem, remote
}

func waitRemote(t *testing.T, ch <-chan cache.Event, key string) {
	t.Helper()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for {
		select {
		case e := <-ch:
			if e.Key == key {
				return
			}
		case <-timeout.C:
			t.Fatalf("no remote invalidation of %q", key)
		}
	}
}

func TestBusDropsOtherInstancesLocalCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Shared(t)
	client, prefix := srv.NewClient(t), redistest.Prefix(t)
	a, _, _ := busInstance(t, client, prefix, cache.Options{BroadcastWrites: true})
	b, bmem, bremote := busInstance(t, client, prefix, cache.Options{})
	av, bv := cache.Typed[string](a), cache.Typed[string](b)

	must(t, av.Set(ctx, "k", "v1", cache.Tags("t")))
	if got, _ := bv.Get(ctx, "k", nil); got != "v1" { // b now holds k in memory
		t.Fatalf("b Get = %q", got)
	}
	waitRemote(t, bremote, "k") // a's Set was broadcast: b dropped its (empty) copy
	if got, _ := bv.Get(ctx, "k", nil); got != "v1" {
		t.Fatalf("b Get = %q", got)
	}
	if _, err := a.InvalidateTag(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	waitRemote(t, bremote, "k")
	if _, ok, _ := bmem.Get(ctx, "k"); ok {
		t.Fatal("b's memory layer still holds k after a's invalidation")
	}
	if _, err := bv.Get(ctx, "k", nil); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("b Get after invalidation = %v, want ErrMiss", err)
	}
	if st := b.Stats(); st.BusReceived == 0 {
		t.Errorf("b BusReceived = 0")
	}
}

func TestBusReconnectDropsLocalCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	client := srv.NewClient(t)
	s, mem, remote := busInstance(t, client, "reconnect:", cache.Options{})
	v := cache.Typed[string](s)
	must(t, v.Set(ctx, "k", "v"))
	srv.Stop(t)
	srv.Restart(t)
	// Redis lost everything (no persistence) and messages sent meanwhile
	// are gone: the local copy must not be trusted.
	waitRemote(t, remote, "")
	if _, ok, _ := mem.Get(ctx, "k"); ok {
		t.Fatal("the memory layer kept k across a bus reconnect")
	}
	if s.Stats().BusReconnects == 0 {
		t.Error("BusReconnects = 0")
	}
}

func TestGenerationBumpReachesOtherInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Shared(t)
	client, prefix := srv.NewClient(t), redistest.Prefix(t)
	store := func() cache.GenerationStore {
		st, err := redisgen.New(redisgen.Options{Client: client, Key: prefix + "generation"})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	a, _, _ := busInstance(t, client, prefix, cache.Options{Generations: &cache.Generations{Store: store(), Refresh: time.Hour}})
	b, _, bremote := busInstance(t, client, prefix, cache.Options{Generations: &cache.Generations{Store: store(), Refresh: time.Hour}})
	must(t, cache.Typed[string](a).Set(ctx, "k", "gen0"))
	if got, _ := cache.Typed[string](b).Get(ctx, "k", nil); got != "gen0" {
		t.Fatalf("b Get = %q, want gen0", got)
	}
	if g, err := a.BumpGeneration(ctx); err != nil || g != 1 {
		t.Fatalf("BumpGeneration = %d, %v", g, err)
	}
	waitRemote(t, bremote, "")
	if g := b.Generation(); g != 1 {
		t.Fatalf("b.Generation() = %d after a's bump, want 1", g)
	}
	if _, err := cache.Typed[string](b).Get(ctx, "k", nil); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("b Get after the bump = %v, want ErrMiss", err)
	}
}
