package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

func TestPolicyApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := startAgent(t, agent.Options{})
	p := agentapi.Policy{Generation: 3, Name: "shop/users",
		Freshness: agentapi.Freshness{TTL: agentapi.Duration(time.Minute)}}
	res, err := r.admin.ApplyPolicy(ctx, p)
	if err != nil || !res.Changed || res.Generation != 3 {
		t.Fatalf("ApplyPolicy = %+v, %v; want changed, generation 3", res, err)
	}
	hash := res.Hash

	// The same content again: nothing rebuilt; a newer generation recorded.
	p.Generation = 4
	res, err = r.admin.ApplyPolicy(ctx, p)
	if err != nil || res.Changed || res.Hash != hash || res.Generation != 4 {
		t.Fatalf("ApplyPolicy(same content, gen 4) = %+v, %v; want unchanged, generation 4", res, err)
	}
	// Same content, older generation: still idempotent.
	p.Generation = 1
	if res, err = r.admin.ApplyPolicy(ctx, p); err != nil || res.Changed {
		t.Fatalf("ApplyPolicy(same content, gen 1) = %+v, %v; want unchanged", res, err)
	}

	// Different content, older generation: refused, policy kept.
	older := agentapi.Policy{Generation: 2, Freshness: agentapi.Freshness{TTL: agentapi.Duration(time.Hour)}}
	_, err = r.admin.ApplyPolicy(ctx, older)
	mustCode(t, err, agentapi.CodeStaleGeneration)
	var e *agentclient.Error
	if !errors.As(err, &e) || e.StatusCode != 409 {
		t.Fatalf("older generation: %v; want status 409", err)
	}

	// Invalid: refused with the fields named, policy kept.
	invalid := agentapi.Policy{Generation: 9, Layers: agentapi.Layers{
		Memory: agentapi.MemoryLayer{MaxEntries: -1},
		Redis:  &agentapi.RedisLayer{Addr: "nowhere"},
	}}
	_, err = r.admin.ApplyPolicy(ctx, invalid)
	mustCode(t, err, agentapi.CodeInvalidPolicy)
	if !errors.As(err, &e) {
		t.Fatal(err)
	}
	details := e.Details
	for _, field := range []string{"layers.memory.maxEntries", "layers.redis.addr", "layers.redis.prefix"} {
		if !slices.ContainsFunc(details, func(d string) bool { return len(d) > len(field) && d[:len(field)] == field }) {
			t.Errorf("422 details %q do not name %s", details, field)
		}
	}
	st, err := r.admin.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.PolicyHash != hash || st.PolicyGeneration != 4 || st.PolicyName != "shop/users" {
		t.Fatalf("status after refusals: hash %s gen %d name %q; want %s, 4, shop/users", st.PolicyHash,
			st.PolicyGeneration, st.PolicyName, hash)
	}
	if st.Rejected == nil || st.Rejected.Generation != 9 || st.Rejected.Code != agentapi.CodeInvalidPolicy {
		t.Fatalf("status.rejected = %+v; want generation 9, InvalidPolicy", st.Rejected)
	}

	// A policy that validates but cannot be built is refused too.
	unbuildable := agentapi.Policy{Generation: 10, Layers: agentapi.Layers{Redis: &agentapi.RedisLayer{
		Addr: "127.0.0.1:1", Prefix: "x:", PasswordFile: filepath.Join(t.TempDir(), "absent")}}}
	_, err = r.admin.ApplyPolicy(ctx, unbuildable)
	mustCode(t, err, agentapi.CodeInvalidPolicy)
	if st, _ := r.admin.Status(ctx); st.PolicyHash != hash {
		t.Fatalf("an unbuildable policy replaced the applied one")
	}
}

func TestPolicyKeepsMemoryAcrossTTLChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOrigin(t, nil)
	base := agentapi.Policy{Generation: 1,
		Layers:    agentapi.Layers{Memory: agentapi.MemoryLayer{MaxEntries: 1000}},
		Freshness: agentapi.Freshness{TTL: agentapi.Duration(time.Hour)},
		Origins:   []agentapi.Origin{o.usersOrigin()}}
	r := startAgent(t, agent.Options{Policy: &base})
	must(t, r.data.Set(ctx, "plain", raw(`"kept"`), agentclient.SetOptions{}))
	if _, err := r.data.Get(ctx, "user:1"); err != nil {
		t.Fatal(err)
	}

	// Only TTLs and freshness change: the memory layer and its entries stay.
	next := base
	next.Generation = 2
	next.Layers.Memory.TTL = agentapi.Duration(10 * time.Minute)
	next.Freshness.StaleWhileRevalidate = agentapi.Duration(time.Minute)
	res, err := r.admin.ApplyPolicy(ctx, next)
	if err != nil || !res.Changed || !slices.Contains(res.Kept, "memory") {
		t.Fatalf("ApplyPolicy(TTL change) = %+v, %v; want changed, memory kept", res, err)
	}
	for _, k := range []string{"plain", "user:1"} {
		v, err := r.data.Get(ctx, k)
		if err != nil || v.Cache != agentapi.CacheHit {
			t.Fatalf("Get(%q) after a TTL-only change = %v (X-Cache %q); want a HIT from the kept memory layer", k, err, v.Cache)
		}
	}
	if n := o.calls.Load(); n != 1 {
		t.Fatalf("origin calls = %d; want 1 (the kept entry served)", n)
	}
	// Tags of kept entries still work: the tag index is kept too.
	if n, err := r.data.InvalidateTags(ctx, []string{"users"}, agentapi.MatchAny); err != nil || n != 1 {
		t.Fatalf("InvalidateTags after the change = %d, %v; want 1", n, err)
	}

	// Resizing memory builds a new, empty layer.
	resized := next
	resized.Generation = 3
	resized.Layers.Memory.MaxEntries = 2000
	if res, err = r.admin.ApplyPolicy(ctx, resized); err != nil || slices.Contains(res.Kept, "memory") {
		t.Fatalf("ApplyPolicy(resize) = %+v, %v; want a new memory layer", res, err)
	}
	_, err = r.data.Get(ctx, "plain")
	mustCode(t, err, agentapi.CodeNotFound)
}

func TestBootstrapFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.json")
	must(t, os.WriteFile(path, []byte(`{"generation": 7, "name": "boot", "freshness": {"ttl": "90s"}}`), 0o600))
	r := startAgent(t, agent.Options{BootstrapFile: path})
	st, err := r.admin.Status(context.Background())
	if err != nil || st.PolicyGeneration != 7 || st.PolicyName != "boot" {
		t.Fatalf("status = %+v, %v; want the bootstrap policy (generation 7)", st, err)
	}

	for name, doc := range map[string]string{
		"unknown field": `{"generation": 1, "freshnes": {}}`,
		"bad duration":  `{"freshness": {"ttl": 90}}`,
		"invalid":       `{"freshness": {"ttl": "-1s"}}`,
	} {
		p := filepath.Join(dir, "bad.json")
		must(t, os.WriteFile(p, []byte(doc), 0o600))
		if _, err := agent.New(agent.Options{BootstrapFile: p, InsecureAdmin: true}); err == nil {
			t.Errorf("agent.New with a bootstrap policy with %s: no error", name)
		}
	}
}

func TestPolicyOfARecreatedCachePolicyAppliesDespiteALowerGeneration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := startAgent(t, agent.Options{})
	old := agentapi.Policy{UID: "uid-1", Generation: 7, Name: "shop/users"}
	if _, err := r.admin.ApplyPolicy(ctx, old); err != nil {
		t.Fatal(err)
	}
	recreated := agentapi.Policy{UID: "uid-2", Generation: 1, Name: "shop/users",
		Freshness: agentapi.Freshness{TTL: agentapi.Duration(time.Minute)}}
	res, err := r.admin.ApplyPolicy(ctx, recreated)
	if err != nil || !res.Changed || res.Generation != 1 {
		t.Fatalf("ApplyPolicy(new uid, generation 1) = %+v, %v; want it applied", res, err)
	}
	stale := agentapi.Policy{UID: "uid-2", Generation: 0, Name: "shop/users"}
	if _, err := r.admin.ApplyPolicy(ctx, stale); agentclient.CodeOf(err) != agentapi.CodeStaleGeneration {
		t.Fatalf("ApplyPolicy(same uid, older generation) = %v; want StaleGeneration", err)
	}
}
