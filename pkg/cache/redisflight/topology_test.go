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
	bulkAcross(t, coords, observed)
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
	bulkAcross(t, coords, observed)
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

// bulkAcross runs DoMany of every topology key on two coordinators: the
// first leads them all (its claims and finishes are pipelines spanning
// slots or shards) and fetches once every key's lease has been seen by the
// second, which receives every result and fetches nothing.
func bulkAcross(t *testing.T, coords []*redisflight.Coordinator, observed signals) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	entered := make(chan struct{})
	lo := goDoMany(ctx, t, coords[0], topologyKeys, func(ctx context.Context, keys []string) map[string]cache.Result {
		close(entered)
		out := make(map[string]cache.Result, len(keys))
		if err := observed.await(ctx, len(keys), "second instance's waits"); err != nil {
			return out
		}
		for _, k := range keys {
			out[k] = cache.Result{Payload: []byte("bulk " + k)}
		}
		return out
	})
	waitFor(ctx, t, entered, "the first instance's fetch started")
	wo := goDoMany(ctx, t, coords[1], topologyKeys, func(context.Context, []string) map[string]cache.Result {
		t.Error("the second instance fetched, want it to receive the first's results")
		return nil
	})
	for who, out := range map[string]<-chan manyOutcome{"leader": lo, "waiter": wo} {
		o := receive(ctx, t, out, who)
		for _, k := range topologyKeys {
			if r := o.res[k]; string(r.Payload) != "bulk "+k || o.errs[k] != nil {
				t.Errorf("%s: key %q = (%+v, %v), want payload %q", who, k, r, o.errs[k], "bulk "+k)
			}
		}
	}
}
