package agent_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
	"github.com/layercache/layercache/pkg/cache"
)

// holding returns the layers of r's cache that hold key.
func holding(t *testing.T, r *running, key string) string {
	t.Helper()
	var names []string
	err := r.agent.Use(func(s *cache.Stack) error {
		entries, err := s.Inspect(context.Background(), key)
		for _, e := range entries {
			if e.Found && e.State != cache.StateExpired {
				names = append(names, e.Layer)
			}
		}
		return err
	})
	if err != nil {
		t.Fatalf("inspect %q: %v", key, err)
	}
	return strings.Join(names, ",")
}

// fleet is two agents sharing one Redis prefix, without a bus.
func fleet(t *testing.T) (a, b *running) {
	t.Helper()
	p := agentapi.Policy{Generation: 1,
		Layers: agentapi.Layers{Redis: &agentapi.RedisLayer{
			Addr: redistest.Shared(t).Addr(), Prefix: redistest.Prefix(t),
			Breaker: &agentapi.Breaker{ConsecutiveFailures: 3, OpenFor: agentapi.Duration(time.Second)}}},
		Freshness: agentapi.Freshness{TTL: agentapi.Duration(time.Hour)}}
	return startAgent(t, agent.Options{Policy: &p}), startAgent(t, agent.Options{Policy: &p})
}

// seed writes the test keys through a and reads them through b, so both
// memory tiers and Redis hold them.
func seed(t *testing.T, a, b *running) {
	t.Helper()
	ctx := context.Background()
	for key, tags := range map[string][]string{
		"user:1": {"users", "eu"}, "user:2": {"users"}, "order:1": {"orders", "eu"}, "cfg:x": nil,
	} {
		must(t, a.data.Set(ctx, key, raw(`{"k":"`+key+`"}`), agentclient.SetOptions{Tags: tags}))
		if _, err := b.data.Get(ctx, key); err != nil {
			t.Fatalf("b.Get(%q): %v", key, err)
		}
	}
}

func TestInvalidationScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		target agentapi.InvalidationTarget
		hit    []string // keys that exist and are selected
		count  int      // KeysRemoved of the local pass (0: len(hit))
	}{
		{"tags any", agentapi.InvalidationTarget{Tags: &agentapi.TagTarget{Values: []string{"users", "orders"}}},
			[]string{"user:1", "user:2", "order:1"}, 0},
		{"tags all", agentapi.InvalidationTarget{Tags: &agentapi.TagTarget{Values: []string{"users", "eu"},
			Match: agentapi.MatchAll}}, []string{"user:1"}, 0},
		{"keys", agentapi.InvalidationTarget{Keys: []string{"user:2", "cfg:x", "absent"}}, []string{"user:2", "cfg:x"}, 3},
		{"prefixes", agentapi.InvalidationTarget{Prefixes: []string{"user:"}}, []string{"user:1", "user:2"}, 0},
		{"patterns", agentapi.InvalidationTarget{Patterns: []string{"*:1"}}, []string{"user:1", "order:1"}, 0},
		{"all", agentapi.InvalidationTarget{All: true}, []string{"user:1", "user:2", "order:1", "cfg:x"}, 0},
	}
	keys := []string{"user:1", "user:2", "order:1", "cfg:x"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := fleet(t)
			seed(t, a, b)

			// local on b: b's memory only.
			res, err := b.admin.Invalidate(ctx, "inv-local", agentapi.InvalidationRequest{Seq: 1, Target: tc.target,
				Layers: agentapi.LayersLocal})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				wantB, wantA := "memory,redis", "memory,redis"
				if slices.Contains(tc.hit, k) {
					wantB = "redis"
				}
				if got := holding(t, b, k); got != wantB {
					t.Errorf("after local: b holds %q in %q; want %q", k, got, wantB)
				}
				if got := holding(t, a, k); got != wantA {
					t.Errorf("after local on b: a holds %q in %q; want %q", k, got, wantA)
				}
			}
			want := tc.count
			if want == 0 && !tc.target.All {
				want = len(tc.hit)
			}
			if res.KeysRemoved != want {
				t.Errorf("local KeysRemoved = %d; want %d", res.KeysRemoved, want)
			}

			// shared on a: Redis only.
			if _, err := a.admin.Invalidate(ctx, "inv-shared", agentapi.InvalidationRequest{Seq: 1,
				Target: tc.target, Layers: agentapi.LayersShared}); err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				want := "memory,redis"
				if slices.Contains(tc.hit, k) {
					want = "memory"
				}
				if got := holding(t, a, k); got != want {
					t.Errorf("after shared: a holds %q in %q; want %q", k, got, want)
				}
			}

			// all on a: the rest of a's copies.
			if _, err := a.admin.Invalidate(ctx, "inv-all", agentapi.InvalidationRequest{Seq: 2,
				Target: tc.target, Layers: agentapi.LayersAll}); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.hit {
				if got := holding(t, a, k); got != "" {
					t.Errorf("after all: a holds %q in %q; want nowhere", k, got)
				}
			}
		})
	}
}

func TestInvalidationIdempotentByUID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := startAgent(t, agent.Options{})
	must(t, r.data.Set(ctx, "k", raw(`1`), agentclient.SetOptions{}))
	req := agentapi.InvalidationRequest{Seq: 5, Layers: agentapi.LayersLocal,
		Target: agentapi.InvalidationTarget{Keys: []string{"k"}}}
	first, err := r.admin.Invalidate(ctx, "3f2b0c1e-aaaa-4bbb-8ccc-0123456789ab", req)
	if err != nil || first.KeysRemoved != 1 || first.AlreadyApplied {
		t.Fatalf("first Invalidate = %+v, %v", first, err)
	}
	// Written again after the invalidation: a repeated uid must not remove it.
	must(t, r.data.Set(ctx, "k", raw(`2`), agentclient.SetOptions{}))
	again, err := r.admin.Invalidate(ctx, "3f2b0c1e-aaaa-4bbb-8ccc-0123456789ab", req)
	if err != nil || !again.AlreadyApplied || again.KeysRemoved != 1 || again.Seq != 5 {
		t.Fatalf("repeated Invalidate = %+v, %v; want the recorded result, AlreadyApplied", again, err)
	}
	if v, err := r.data.Get(ctx, "k"); err != nil || string(v.JSON) != "2" {
		t.Fatalf("Get after the repeat = %s, %v; want the newer value kept", v.JSON, err)
	}

	// The watermark is contiguous over the local sequences: #5 waits above
	// the hole at #1-#4, and shared passes do not count.
	for _, step := range []struct {
		uid    string
		seq    int64
		layers agentapi.LayerScope
		want   int64
	}{
		{"seq-1", 1, agentapi.LayersAll, 1},
		{"seq-9-shared", 9, agentapi.LayersShared, 1},
		{"seq-3", 3, agentapi.LayersLocal, 1},
		{"seq-2", 2, agentapi.LayersLocal, 3},
		{"seq-4", 4, agentapi.LayersLocal, 5},
	} {
		if _, err := r.admin.Invalidate(ctx, step.uid, agentapi.InvalidationRequest{Seq: step.seq, Layers: step.layers,
			Target: agentapi.InvalidationTarget{Prefixes: []string{"nothing:"}}}); err != nil {
			t.Fatal(err)
		}
		if st, err := r.admin.Status(ctx); err != nil || st.LastInvalidationSeq != step.want {
			t.Fatalf("after %s: LastInvalidationSeq = %d, %v; want %d", step.uid, st.LastInvalidationSeq, err, step.want)
		}
	}

	for name, tc := range map[string]struct {
		uid string
		req agentapi.InvalidationRequest
	}{
		"bad uid":      {"Bad_UID", req},
		"uid mismatch": {"one", agentapi.InvalidationRequest{UID: "two", Layers: agentapi.LayersAll, Target: req.Target}},
		"no layers":    {"x", agentapi.InvalidationRequest{Target: req.Target}},
		"no target":    {"x", agentapi.InvalidationRequest{Layers: agentapi.LayersAll}},
	} {
		_, err := r.admin.Invalidate(ctx, tc.uid, tc.req)
		if agentclient.CodeOf(err) != agentapi.CodeInvalidRequest {
			t.Errorf("%s: error %v; want InvalidRequest", name, err)
		}
	}
}

func TestInvalidationReachesPeersOverTheBus(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := agentapi.Policy{Generation: 1,
		Layers: agentapi.Layers{Redis: &agentapi.RedisLayer{Addr: redistest.Shared(t).Addr(), Prefix: redistest.Prefix(t)}},
		Bus:    &agentapi.Bus{}}
	a, b := startAgent(t, agent.Options{Policy: &p}), startAgent(t, agent.Options{Policy: &p})
	must(t, a.data.Set(ctx, "user:1", raw(`1`), agentclient.SetOptions{Tags: []string{"users"}}))
	if _, err := b.data.Get(ctx, "user:1"); err != nil {
		t.Fatal(err)
	}
	if got := holding(t, b, "user:1"); got != "memory,redis" {
		t.Fatalf("b holds user:1 in %q; want memory,redis", got)
	}
	if _, err := a.admin.Invalidate(ctx, "bus-1", agentapi.InvalidationRequest{Seq: 1, Layers: agentapi.LayersAll,
		Target: agentapi.InvalidationTarget{Tags: &agentapi.TagTarget{Values: []string{"users"}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to drop its copy", func() bool { return holding(t, b, "user:1") == "" })
}
