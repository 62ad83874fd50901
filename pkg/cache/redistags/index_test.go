package redistags_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redistags"
	"github.com/layercache/layercache/pkg/cache/tagindex/tagindextest"
)

var _ cache.TagIndex = (*redistags.Index)(nil)

// newIndex builds an index on opts with a fresh test prefix, unless opts
// has one.
func newIndex(t *testing.T, opts redistags.Options) *redistags.Index {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = redistest.Prefix(t)
	}
	ix, err := redistags.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return ix
}

func sharedClient(t *testing.T) *redis.Client {
	t.Helper()
	return redistest.Shared(t).NewClient(t)
}

func TestConformance(t *testing.T) {
	cases := []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient // called once per case
		opts   redistags.Options
		want   redistags.Mode
	}{
		{"Atomic", sharedUniversal, redistags.Options{}, redistags.ModeAtomic},
		{"AtomicOneShard", sharedUniversal, redistags.Options{Shards: 1}, redistags.ModeAtomic},
		{"PerSlot", sharedUniversal, redistags.Options{Mode: redistags.ModePerSlot}, redistags.ModePerSlot},
		// One cluster for all subtests: a new node takes 2 s to accept writes.
		{"Cluster", func(t *testing.T) redis.UniversalClient { c, _ := startCluster(t); return c },
			redistags.Options{}, redistags.ModePerSlot},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := tc.client(t)
			tagindextest.Run(t, func(t *testing.T, clock *tagindextest.Clock) cache.TagIndex {
				opts := tc.opts
				opts.Client, opts.Clock = client, clock
				ix := newIndex(t, opts) // a prefix of its own
				if got := ix.Mode(); got != tc.want {
					t.Fatalf("Mode() = %v, want %v", got, tc.want)
				}
				return ix
			})
		})
	}
}

func sharedUniversal(t *testing.T) redis.UniversalClient { return sharedClient(t) }

func TestNewOptions(t *testing.T) {
	client := sharedClient(t)
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	t.Cleanup(func() {
		_ = cluster.Close() // never connected: nothing to report
		_ = ring.Close()
	})
	bad := []struct {
		name string
		opts redistags.Options
		want string
	}{
		{"no client", redistags.Options{}, "Client"},
		{"brace in prefix", redistags.Options{Client: client, Prefix: "a{b}:"}, "Prefix"},
		{"negative shards", redistags.Options{Client: client, Shards: -1}, "Shards"},
		{"too many shards", redistags.Options{Client: client, Shards: 16385}, "Shards"},
		{"unknown mode", redistags.Options{Client: client, Mode: 9}, "Mode"},
		{"atomic on cluster", redistags.Options{Client: cluster, Mode: redistags.ModeAtomic}, "ModeAtomic"},
		{"atomic on ring", redistags.Options{Client: ring, Mode: redistags.ModeAtomic}, "ModeAtomic"},
		{"negative grace", redistags.Options{Client: client, ExpiryGrace: -time.Second}, "ExpiryGrace"},
	}
	for _, tc := range bad {
		_, err := redistags.New(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%s) = %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	modes := []struct {
		client redis.UniversalClient
		mode   redistags.Mode
		want   redistags.Mode
	}{
		{client, redistags.ModeAuto, redistags.ModeAtomic},
		{client, redistags.ModePerSlot, redistags.ModePerSlot},
		{cluster, redistags.ModeAuto, redistags.ModePerSlot},
		{ring, redistags.ModeAuto, redistags.ModePerSlot},
	}
	for _, tc := range modes {
		ix, err := redistags.New(redistags.Options{Client: tc.client, Mode: tc.mode})
		if err != nil {
			t.Fatalf("New(%T, %v): %v", tc.client, tc.mode, err)
		}
		if got := ix.Mode(); got != tc.want {
			t.Errorf("New(%T, %v).Mode() = %v, want %v", tc.client, tc.mode, got, tc.want)
		}
	}
}

// scanAll returns every Redis key that starts with prefix.
func scanAll(t *testing.T, c redis.Cmdable, prefix string) []string {
	t.Helper()
	var out []string
	iter := c.Scan(context.Background(), 0, "*", 1000).Iterator()
	for iter.Next(context.Background()) {
		if strings.HasPrefix(iter.Val(), prefix) {
			out = append(out, iter.Val())
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("SCAN: %v", err)
	}
	slices.Sort(out)
	return out
}

func TestLayoutAndRedisExpiry(t *testing.T) {
	for _, mode := range []redistags.Mode{redistags.ModeAtomic, redistags.ModePerSlot} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := context.Background()
			c := sharedClient(t)
			prefix := redistest.Prefix(t)
			clock := tagindextest.NewClock()
			ix := newIndex(t, redistags.Options{Client: c, Prefix: prefix, Shards: 1, Mode: mode, Clock: clock})

			soon, later := clock.At(time.Minute), clock.At(time.Hour)
			for _, tr := range []struct {
				key       string
				tags      []string
				expiresAt int64
			}{
				{"k1", []string{"a", "b"}, soon},
				{"k2", []string{"a"}, later},
				{"k3", []string{"c"}, 0},
			} {
				if err := ix.Track(ctx, tr.key, tr.tags, tr.expiresAt); err != nil {
					t.Fatal(err)
				}
			}
			want := []string{
				prefix + "k:k1", prefix + "k:k2", prefix + "k:k3",
				prefix + "t:{0:a}:e", prefix + "t:{0:a}:m",
				prefix + "t:{0:b}:e", prefix + "t:{0:b}:m",
				prefix + "t:{0:c}:e", prefix + "t:{0:c}:m",
			}
			if got := scanAll(t, c, prefix); !slices.Equal(got, want) {
				t.Fatalf("Redis keys = %q, want %q", got, want)
			}

			grace := redistags.DefaultExpiryGrace.Milliseconds()
			expireAt := func(key string) int64 {
				t.Helper()
				at, err := c.Do(ctx, "PEXPIRETIME", key).Int64()
				if err != nil {
					t.Fatalf("PEXPIRETIME %s: %v", key, err)
				}
				return at
			}
			ms := func(ns int64) int64 { return ns / 1e6 }
			checks := []struct {
				key  string
				want int64 // Unix ms; -1: no expiry
			}{
				{prefix + "k:k1", ms(soon) + grace},
				{prefix + "k:k2", ms(later) + grace},
				{prefix + "k:k3", -1},
				{prefix + "t:{0:a}:m", ms(later) + grace}, // the latest member's
				{prefix + "t:{0:a}:e", ms(later) + grace},
				{prefix + "t:{0:b}:e", ms(soon) + grace},
				{prefix + "t:{0:c}:e", -1},
			}
			for _, ck := range checks {
				if got := expireAt(ck.key); got != ck.want {
					t.Errorf("PEXPIRETIME %s = %d, want %d", ck.key, got, ck.want)
				}
			}
			if got, err := c.SMembers(ctx, prefix+"k:k1").Result(); err != nil || !slices.Equal(sorted(got), []string{"a", "b"}) {
				t.Errorf("record of k1 = %q, %v; want [a b]", got, err)
			}

			// A member that never expires makes the tag's sets persist.
			if err := ix.Track(ctx, "k4", []string{"a"}, 0); err != nil {
				t.Fatal(err)
			}
			if got := expireAt(prefix + "t:{0:a}:e"); got != -1 {
				t.Errorf("PEXPIRETIME of a tag with a never-expiring member = %d, want -1", got)
			}

			// Untracking everything leaves nothing behind.
			if err := ix.Untrack(ctx, []string{"k1", "k2", "k3", "k4"}); err != nil {
				t.Fatal(err)
			}
			if got := scanAll(t, c, prefix); len(got) != 0 {
				t.Fatalf("Redis keys after Untrack of every key = %q, want none", got)
			}
		})
	}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

func TestExpiredTrimmed(t *testing.T) {
	for _, mode := range []redistags.Mode{redistags.ModeAtomic, redistags.ModePerSlot} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := context.Background()
			c := sharedClient(t)
			prefix := redistest.Prefix(t)
			clock := tagindextest.NewClock()
			ix := newIndex(t, redistags.Options{Client: c, Prefix: prefix, Shards: 1, Mode: mode, Clock: clock})
			for i := range 200 {
				if err := ix.Track(ctx, fmt.Sprint("k", i), []string{"a"}, clock.At(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			card := func() int64 {
				t.Helper()
				n, err := c.ZCard(ctx, prefix+"t:{0:a}:e").Result()
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			clock.Add(time.Minute)
			// Each Track removes up to 64 expired members of the tags it
			// touches, so expired members cannot pile up.
			if err := ix.Track(ctx, "fresh", []string{"a"}, clock.At(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if got := card(); got != 200-64+1 {
				t.Fatalf("members after one Track = %d, want %d", got, 200-64+1)
			}
			// So does each page Keys reads.
			for range 3 {
				if err := ix.Keys(ctx, []string{"a"}, false, 10, func([]string) error { return nil }); err != nil {
					t.Fatal(err)
				}
			}
			if got := card(); got != 1 {
				t.Fatalf("members after Keys = %d, want 1 (the live one)", got)
			}
		})
	}
}

func TestClearOnlyPrefix(t *testing.T) {
	ctx := context.Background()
	c := sharedClient(t)
	base := redistest.Prefix(t)
	// Glob metacharacters in the prefix must match only themselves.
	prefix := base + `a*[x]?\:`
	ix := newIndex(t, redistags.Options{Client: c, Prefix: prefix})
	for i := range 1500 { // several SCAN pages
		if err := ix.Track(ctx, fmt.Sprint("key", i), []string{fmt.Sprint("t", i%7)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	foreign := []string{
		base + `aZZx?\:k:key1`, // would match the unescaped glob
		base + `a*x\:k:key1`,
		base + "other",
	}
	for _, k := range foreign {
		if err := c.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if got := scanAll(t, c, prefix); len(got) != 0 {
		t.Fatalf("%d keys of the index left after Clear, e.g. %q", len(got), got[0])
	}
	if got, want := scanAll(t, c, base), sorted(slices.Clone(foreign)); !slices.Equal(got, want) {
		t.Fatalf("keys outside the index after Clear = %q, want %q", got, want)
	}
}

func TestCluster(t *testing.T) {
	cluster, addr := startCluster(t)
	// A plain client to the node: commands are not routed by slot, so the
	// node's own CROSSSLOT check sees what the index sends.
	plain := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() {
		if err := plain.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	ctx := context.Background()

	t.Run("AtomicRefused", func(t *testing.T) {
		ix := newIndex(t, redistags.Options{Client: plain, Mode: redistags.ModeAtomic})
		err := ix.Track(ctx, "k", []string{"a", "b", "c"}, 0)
		if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
			t.Fatalf("ModeAtomic Track on a cluster node = %v, want a CROSSSLOT error", err)
		}
	})

	t.Run("PerSlotKeepsToOneSlot", func(t *testing.T) {
		ix := newIndex(t, redistags.Options{Client: plain, Mode: redistags.ModePerSlot})
		for i := range 50 {
			if err := ix.Track(ctx, fmt.Sprint("k", i), []string{"a", "b", fmt.Sprint("t", i%5)}, 0); err != nil {
				t.Fatalf("Track: %v", err)
			}
		}
		var n int
		err := ix.Keys(ctx, []string{"a", "t1"}, true, 4, func(keys []string) error {
			n += len(keys)
			return ix.Untrack(ctx, keys)
		})
		if err != nil || n != 10 {
			t.Fatalf("Keys(a & t1) = %d keys, %v; want 10, nil", n, err)
		}
		if err := ix.Clear(ctx); err != nil {
			t.Fatalf("Clear: %v", err)
		}
	})

	t.Run("Clear", func(t *testing.T) {
		prefix := redistest.Prefix(t)
		ix := newIndex(t, redistags.Options{Client: cluster, Prefix: prefix})
		for i := range 300 {
			if err := ix.Track(ctx, fmt.Sprint("key", i), []string{"a", fmt.Sprint("t", i%7)}, 0); err != nil {
				t.Fatal(err)
			}
		}
		foreign := prefix[:len(prefix)-1] + "-foreign"
		if err := cluster.Set(ctx, foreign, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := ix.Clear(ctx); err != nil {
			t.Fatalf("Clear: %v", err)
		}
		var left []string
		err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			keys, err := node.Keys(ctx, prefix[:len(prefix)-1]+"*").Result()
			left = append(left, keys...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(left, []string{foreign}) {
			t.Fatalf("keys left after Clear = %d keys %.200q, want [%s]", len(left), left, foreign)
		}
	})
}

// TestScriptCacheFlushed checks that every path recovers when the server
// has not cached the scripts (a new or restarted server, SCRIPT FLUSH).
func TestScriptCacheFlushed(t *testing.T) {
	srv := redistest.Start(t) // SCRIPT FLUSH must not disturb other tests
	for _, mode := range []redistags.Mode{redistags.ModeAtomic, redistags.ModePerSlot} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := context.Background()
			c := srv.NewClient(t)
			ix := newIndex(t, redistags.Options{Client: c, Mode: mode})
			flush := func() {
				t.Helper()
				if err := c.ScriptFlush(ctx).Err(); err != nil {
					t.Fatal(err)
				}
			}
			flush()
			if err := ix.Track(ctx, "k1", []string{"a", "b"}, 0); err != nil {
				t.Fatalf("Track after SCRIPT FLUSH: %v", err)
			}
			flush()
			if err := ix.Track(ctx, "k2", []string{"a"}, 0); err != nil {
				t.Fatalf("Track after SCRIPT FLUSH: %v", err)
			}
			flush()
			var got []string
			err := ix.Keys(ctx, []string{"a"}, false, 10, func(keys []string) error {
				got = append(got, keys...)
				return nil
			})
			if err != nil {
				t.Fatalf("Keys after SCRIPT FLUSH: %v", err)
			}
			if slices.Sort(got); !slices.Equal(got, []string{"k1", "k2"}) {
				t.Fatalf("Keys(a) = %q, want [k1 k2]", got)
			}
			flush()
			if err := ix.Untrack(ctx, []string{"k1", "k2"}); err != nil {
				t.Fatalf("Untrack after SCRIPT FLUSH: %v", err)
			}
		})
	}
}

// TestAtomicRetagConsistent retags one key from many goroutines at once: in
// ModeAtomic the key must end up in exactly the tag sets its record names.
func TestAtomicRetagConsistent(t *testing.T) {
	ctx := context.Background()
	c := sharedClient(t)
	prefix := redistest.Prefix(t)
	ix := newIndex(t, redistags.Options{Client: c, Prefix: prefix, Shards: 1})
	tagSets := [][]string{{"a"}, {"b", "c"}, {"a", "c"}, {"d"}, nil, {"a", "b", "c", "d"}}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 40 {
				err := ix.Track(ctx, "k", tagSets[(w+i)%len(tagSets)], 0)
				if err != nil && !errors.Is(err, redistags.ErrContended) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	record, err := c.SMembers(ctx, prefix+"k:k").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(record)
	var filed []string
	for _, tag := range []string{"a", "b", "c", "d"} {
		for _, set := range []string{"m", "e"} {
			_, err := c.ZScore(ctx, prefix+"t:{0:"+tag+"}:"+set, "k").Result()
			switch {
			case err == nil:
				if set == "m" {
					filed = append(filed, tag)
				}
			case !errors.Is(err, redis.Nil):
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(record, filed) {
		t.Fatalf("record names tags %q, but the key is filed under %q", record, filed)
	}
}

// TestKeysPagesAcrossShards checks batching over many shards and keys when
// fn removes what it is given, with both match modes.
func TestKeysPagesAcrossShards(t *testing.T) {
	ctx := context.Background()
	ix := newIndex(t, redistags.Options{Client: sharedClient(t), Shards: 5})
	const n = 1000
	for i := range n {
		tags := []string{"x"}
		if i%2 == 0 {
			tags = append(tags, "even")
		}
		if err := ix.Track(ctx, fmt.Sprintf("k%04d", i), tags, 0); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(map[string]int)
	err := ix.Keys(ctx, []string{"even", "x"}, true, 13, func(keys []string) error {
		if len(keys) > 13 {
			return fmt.Errorf("batch of %d keys", len(keys))
		}
		for _, k := range keys {
			seen[k]++
		}
		return ix.Untrack(ctx, keys)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n/2 {
		t.Fatalf("Keys(even & x) reported %d keys, want %d", len(seen), n/2)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("key %q reported %d times", k, c)
		}
	}
	clear(seen)
	err = ix.Keys(ctx, []string{"even", "x"}, false, 13, func(keys []string) error {
		for _, k := range keys {
			seen[k]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n/2 {
		t.Fatalf("Keys(even | x) reported %d keys, want the %d odd ones left", len(seen), n/2)
	}
}
