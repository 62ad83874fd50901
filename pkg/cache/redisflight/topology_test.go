package redisflight_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisflight"
)

// Keys whose names hash to different slots and shards, and keys with
// braces, which must still keep a key's names together.
var topologyKeys = []string{"a", "b", "user:{1}:name", "}leading", "{", "x}y{z"}

// TestDo_cluster proves the scripts Cluster-safe (no CROSSSLOT) and that
// announcements reach a waiter whose subscription sits on another node.
func TestDo_cluster(t *testing.T) {
	t.Parallel()
	cluster := redistest.StartCluster(t, 3)
	prefix := redistest.Prefix(t)
	observed := newSignals()
	var coords []*redisflight.Coordinator
	for range 2 {
		c := newCoordinator(t, cluster.NewClient(t), prefix)
		redisflight.SetHooks(c, observed.hook, nil)
		coords = append(coords, c)
	}
	for _, key := range topologyKeys {
		stampede(t, coords, observed, key, 10)
	}
	wokenByAnnouncement(t, cluster.NewClient(t), cluster.NewClient(t))
}

// TestDo_wokenByAnnouncement checks that a waiter learns of the result from
// the announcement on a standalone server.
func TestDo_wokenByAnnouncement(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	wokenByAnnouncement(t, srv.NewClient(t), srv.NewClient(t))
}

// TestDo_ring runs on a Ring of two shards, where each wait subscribes on
// the shard of its key.
func TestDo_ring(t *testing.T) {
	t.Parallel()
	shards := map[string]string{"one": redistest.Start(t).Addr(), "two": redistest.Start(t).Addr()}
	prefix := redistest.Prefix(t)
	observed := newSignals()
	var coords []*redisflight.Coordinator
	for range 2 {
		ring := redis.NewRing(&redis.RingOptions{Addrs: shards})
		t.Cleanup(func() {
			if err := ring.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
				t.Errorf("close ring: %v", err)
			}
		})
		c := newCoordinator(t, ring, prefix)
		redisflight.SetHooks(c, observed.hook, nil)
		coords = append(coords, c)
	}
	for _, key := range topologyKeys {
		stampede(t, coords, observed, key, 10)
	}
	wokenByAnnouncement(t, redis.NewRing(&redis.RingOptions{Addrs: shards}), redis.NewRing(&redis.RingOptions{Addrs: shards}))
}

// wokenByAnnouncement checks that a waiter is woken by the leader's
// announcement rather than by its lease check, which comes every second
// with the default lease: the waiter gives up before its first check.
// It closes both clients.
func wokenByAnnouncement(t *testing.T, leaderClient, waiterClient redis.UniversalClient) {
	t.Helper()
	for _, c := range []redis.UniversalClient{leaderClient, waiterClient} {
		t.Cleanup(func() {
			if err := c.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
				t.Errorf("close client: %v", err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	prefix := redistest.Prefix(t)
	leader := newCoordinator(t, leaderClient, prefix)
	waiter := newCoordinator(t, waiterClient, prefix, func(o *redisflight.Options) { o.WaitTimeout = 900 * time.Millisecond })
	waiting := newSignals()
	redisflight.SetHooks(waiter, nil, waiting.hook)
	started := make(chan struct{})
	lo := goDo(ctx, t, leader, "announced", func(ctx context.Context) cache.Result {
		close(started)
		if err := waiting.await(ctx, 1, "waiter"); err != nil {
			return cache.Result{Err: err.Error()}
		}
		return cache.Result{Payload: []byte("announced")}
	})
	waitFor(ctx, t, started, "leader's fetch started")
	wo := goDo(ctx, t, waiter, "announced", mustNotFetch(t, "waiter"))
	wantPayload(t, "leader", receive(ctx, t, lo, "leader"), "announced")
	wantPayload(t, "waiter", receive(ctx, t, wo, "waiter"), "announced")
}
