package agent_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

func TestReadThroughLoadsOncePerKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gate := make(chan struct{})
	o := newOrigin(t, gate)
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{
		Freshness: agentapi.Freshness{TTL: agentapi.Duration(time.Hour)},
		Origins:   []agentapi.Origin{o.usersOrigin()},
	}})
	const callers = 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	values := make(chan string, callers)
	for range callers {
		wg.Go(func() {
			v, err := r.data.Get(ctx, "user:42")
			if err != nil {
				errs <- err
				return
			}
			values <- strings.TrimSpace(string(v.JSON))
		})
	}
	// Hold the origin until its first request arrives, so the callers pile
	// up on one load; whoever comes later hits the cache.
	waitFor(t, "the origin's first request", func() bool { return o.calls.Load() > 0 })
	close(gate)
	wg.Wait()
	close(errs)
	close(values)
	for err := range errs {
		t.Errorf("Get: %v", err)
	}
	for v := range values {
		if v != `{"id":"42"}` {
			t.Errorf("Get = %s; want {\"id\":\"42\"}", v)
		}
	}
	if n := o.calls.Load(); n != 1 {
		t.Fatalf("origin called %d times for %d concurrent readers; want 1", n, callers)
	}
	v, err := r.data.Get(ctx, "user:42")
	if err != nil || v.Cache != agentapi.CacheHit {
		t.Fatalf("Get after the load = %v (X-Cache %q); want HIT", err, v.Cache)
	}
	// The origin's tags are attached: invalidating them drops the entry.
	if n, err := r.data.InvalidateTags(ctx, []string{"users"}, agentapi.MatchAny); err != nil || n != 1 {
		t.Fatalf("InvalidateTags(users) = %d, %v; want 1", n, err)
	}
	v, err = r.data.Get(ctx, "user:42")
	if err != nil || v.Cache != agentapi.CacheMiss || o.calls.Load() != 2 {
		t.Fatalf("Get after invalidation = %v (X-Cache %q, origin calls %d); want MISS and a second load",
			err, v.Cache, o.calls.Load())
	}
}

func TestReadThroughOriginAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOrigin(t, nil)
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{
		Freshness: agentapi.Freshness{TTL: agentapi.Duration(time.Hour), NegativeTTL: agentapi.Duration(time.Hour)},
		Origins: []agentapi.Origin{
			{KeyPattern: "pair:*:*", URLTemplate: o.srv.URL + "/users/{2}-{1}"},
			o.usersOrigin(),
		},
	}})
	v, err := r.data.Get(ctx, "pair:a b:c/d")
	if err != nil || strings.TrimSpace(string(v.JSON)) != `{"id":"c/d-a b"}` {
		t.Fatalf("Get(pair:a b:c/d) = %s, %v; want the captures escaped into the URL", v.JSON, err)
	}
	_, err = r.data.Get(ctx, "user:missing-1")
	mustCode(t, err, agentapi.CodeNotFound)
	_, err = r.data.Get(ctx, "user:missing-1")
	mustCode(t, err, agentapi.CodeNotFound)
	if n := o.calls.Load(); n != 2 {
		t.Fatalf("origin calls = %d; want 2 (the 404 is cached for negativeTTL)", n)
	}
	_, err = r.data.Get(ctx, "user:broken")
	mustCode(t, err, agentapi.CodeOriginFailed)
	_, err = r.data.Get(ctx, "order:1")
	mustCode(t, err, agentapi.CodeNotFound)
}
