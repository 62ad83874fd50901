package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

func TestRedisOutageOpensTheBreaker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Start(t)
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{
		Layers: agentapi.Layers{Redis: &agentapi.RedisLayer{Addr: srv.Addr(), Prefix: "outage:",
			Breaker: &agentapi.Breaker{ConsecutiveFailures: 2, OpenFor: agentapi.Duration(time.Hour)}}},
	}})
	must(t, r.data.Set(ctx, "before", raw(`1`), agentclient.SetOptions{}))
	srv.Stop(t)

	// Writes still succeed (the memory tier takes them) and reads are
	// served from memory while Redis is down.
	for _, k := range []string{"during-1", "during-2", "during-3"} {
		must(t, r.data.Set(ctx, k, raw(`2`), agentclient.SetOptions{}))
		if v, err := r.data.Get(ctx, k); err != nil || string(v.JSON) != "2" {
			t.Fatalf("Get(%q) with Redis down = %s, %v", k, v.JSON, err)
		}
	}
	st, err := r.admin.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Breakers.Open != 1 || st.Breakers.Trips != 1 {
		t.Fatalf("breakers = %+v; want one open after the trip", st.Breakers)
	}
	var redis agentapi.LayerStatus
	for _, l := range st.Layers {
		if l.Name == "redis" {
			redis = l
		}
	}
	if !redis.Shared || redis.Breaker != "open" || redis.Errors == 0 {
		t.Fatalf("redis layer status = %+v; want shared, breaker open, errors counted", redis)
	}
}

func TestPolicyKeepsTheRedisClientAndBreaker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.Shared(t)
	p := agentapi.Policy{Generation: 1, Layers: agentapi.Layers{Redis: &agentapi.RedisLayer{
		Addr: srv.Addr(), Prefix: redistest.Prefix(t), Breaker: &agentapi.Breaker{ConsecutiveFailures: 3}}}}
	r := startAgent(t, agent.Options{Policy: &p})
	must(t, r.data.Set(ctx, "k", raw(`1`), agentclient.SetOptions{}))
	steps := []struct {
		name string
		edit func(l *agentapi.RedisLayer)
		kept string
	}{
		{"ttl", func(l *agentapi.RedisLayer) { l.TTL = agentapi.Duration(time.Hour) }, "memory,redis-client,redis-breaker"},
		{"breaker", func(l *agentapi.RedisLayer) { l.Breaker = &agentapi.Breaker{ConsecutiveFailures: 9} }, "memory,redis-client"},
		{"db", func(l *agentapi.RedisLayer) { l.DB = 1 }, "memory"},
	}
	for i, step := range steps {
		l := *p.Layers.Redis
		step.edit(&l)
		p.Generation, p.Layers.Redis = int64(i+2), &l
		res, err := r.admin.ApplyPolicy(ctx, p)
		if err != nil || strings.Join(res.Kept, ",") != step.kept {
			t.Fatalf("ApplyPolicy(%s change) = %+v, %v; want kept %s", step.name, res, err, step.kept)
		}
		// The value written through the first policy is still in memory.
		if v, err := r.data.Get(ctx, "k"); err != nil || v.Cache != agentapi.CacheHit {
			t.Fatalf("Get after the %s change = %v, %v", step.name, v, err)
		}
	}
}
