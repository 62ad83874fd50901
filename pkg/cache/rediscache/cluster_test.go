package rediscache_test

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layertest"
	"github.com/layercache/layercache/pkg/cache/rediscache"
)

// TestCluster runs the layer on a real three-master Redis Cluster: bulk
// operations over keys in many slots must not fail with CROSSSLOT, and Scan
// and Clear must see every master.
func TestCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	client := cl.NewClient(t)
	newLayer := func(t *testing.T) *rediscache.Layer {
		l, err := rediscache.New(rediscache.Options{Client: client, Prefix: redistest.Prefix(t), PipelineBatch: 7, DeleteBatch: 5})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	t.Run("Conformance", func(t *testing.T) {
		layertest.Run(t, func(t *testing.T) cache.Layer { return newLayer(t) })
	})

	t.Run("KeysOnEveryMaster", func(t *testing.T) {
		l := newLayer(t)
		var items []cache.Item
		var keys []string
		for i := range 60 {
			k := fmt.Sprint("key-", i)
			keys = append(keys, k)
			items = append(items, cache.Item{Key: k, Entry: entry(k)})
		}
		if err := l.SetMany(ctx(t), items); err != nil {
			t.Fatalf("SetMany over many slots: %v", err)
		}
		for _, node := range cl.Nodes() {
			if n, err := node.NewClient(t).DBSize(ctx(t)).Result(); err != nil || n == 0 {
				t.Errorf("master %s holds %d keys (%v), want some of the 60", node.Addr(), n, err)
			}
		}
		_, found, err := l.GetMany(ctx(t), keys)
		if err != nil {
			t.Fatalf("GetMany over many slots: %v", err)
		}
		for i, ok := range found {
			if !ok {
				t.Errorf("GetMany: %s not found", keys[i])
			}
		}
		seen := map[string]bool{}
		if err := l.Scan(ctx(t), "key-", func(k string) bool { seen[k] = true; return true }); err != nil {
			t.Fatalf("Scan: %v", err)
		}
		if len(seen) != len(keys) {
			t.Errorf("Scan saw %d keys, want %d (every master)", len(seen), len(keys))
		}
		if err := l.DeleteMany(ctx(t), keys[:30]); err != nil {
			t.Fatalf("DeleteMany over many slots: %v", err)
		}
		if err := l.Clear(ctx(t)); err != nil {
			t.Fatalf("Clear: %v", err)
		}
		var left []string
		if err := l.Scan(ctx(t), "", func(k string) bool { left = append(left, k); return true }); err != nil {
			t.Fatalf("Scan after Clear: %v", err)
		}
		if len(left) != 0 {
			t.Errorf("keys left after Clear: %v", left)
		}
	})
}

// TestRingWithAShardDownRefusesScanAndClear: a Ring skips shards its
// heartbeat marks down, so a Clear would leave their keys to be served again
// once they are back. The layer must say so instead of reporting success.
func TestRingWithAShardDownRefusesScanAndClear(t *testing.T) {
	t.Parallel()
	// The second shard's address has nothing listening: the heartbeat marks
	// it down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:              map[string]string{"up": redistest.Shared(t).Addr(), "down": deadAddr},
		HeartbeatFrequency: 10 * time.Millisecond,
	})
	t.Cleanup(func() { _ = ring.Close() })
	for ring.Len() != 1 { // bounded by the test's deadline
		if t.Context().Err() != nil {
			t.Fatal("the ring never marked the dead shard down")
		}
		runtime.Gosched()
	}
	l, err := rediscache.New(rediscache.Options{Client: ring, Prefix: redistest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Clear(ctx(t)); !errors.Is(err, rediscache.ErrShardsDown) {
		t.Errorf("Clear with a shard down = %v, want ErrShardsDown", err)
	}
	if err := l.Scan(ctx(t), "", func(string) bool { return true }); !errors.Is(err, rediscache.ErrShardsDown) {
		t.Errorf("Scan with a shard down = %v, want ErrShardsDown", err)
	}
}
