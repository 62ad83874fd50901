package agent_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

// A request running when a new policy is applied finishes on the cache it
// started with: the replaced Stack is closed only after it.
func TestPolicySwapWaitsForRunningRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gate := make(chan struct{})
	o := newOrigin(t, gate)
	p := agentapi.Policy{Generation: 1, Origins: []agentapi.Origin{o.usersOrigin()},
		Layers: agentapi.Layers{Memory: agentapi.MemoryLayer{MaxEntries: 100}}}
	r := startAgent(t, agent.Options{Policy: &p})
	got := make(chan error, 1)
	go func() {
		v, err := r.data.Get(ctx, "user:1")
		if err == nil && string(v.JSON) != "{\"id\":\"1\"}\n" {
			err = fmt.Errorf("value %q", v.JSON)
		}
		got <- err
	}()
	waitFor(t, "the read-through to reach the origin", func() bool { return o.calls.Load() == 1 })
	next := p
	next.Generation, next.Layers.Memory.MaxEntries = 2, 200 // a new memory layer
	if _, err := r.admin.ApplyPolicy(ctx, next); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if err := <-got; err != nil {
		t.Fatalf("the request running across the policy change: %v", err)
	}
}

func TestPolicySwapUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOrigin(t, nil)
	p := agentapi.Policy{Generation: 1, Origins: []agentapi.Origin{o.usersOrigin()}}
	r := startAgent(t, agent.Options{Policy: &p})
	stop := make(chan struct{})
	var failures atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("user:%d", (w*7+i)%50)
				if _, err := r.data.Get(ctx, key); err != nil {
					failures.Add(1)
					t.Errorf("Get(%q) during policy changes: %v", key, err)
					return
				}
				if err := r.data.Set(ctx, fmt.Sprintf("w%d", w), raw(`1`), agentclient.SetOptions{}); err != nil {
					failures.Add(1)
					t.Errorf("Set during policy changes: %v", err)
					return
				}
			}
		})
	}
	for gen := int64(2); gen < 30 && failures.Load() == 0; gen++ {
		next := p
		next.Generation = gen
		next.Freshness.TTL = agentapi.Duration(time.Duration(gen) * time.Second)
		if gen%5 == 0 {
			next.Layers.Memory.MaxEntries = int(gen) * 100 // rebuild memory now and then
		}
		if _, err := r.admin.ApplyPolicy(ctx, next); err != nil {
			t.Fatalf("ApplyPolicy(gen %d): %v", gen, err)
		}
	}
	close(stop)
	wg.Wait()
}
