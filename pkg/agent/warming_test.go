package agent_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// probe returns the status of GET path on r's probe server.
func probe(t *testing.T, r *running, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + r.probeAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	return resp.StatusCode
}

func TestReadinessWaitsForWarming(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gate := make(chan struct{})
	o := newOrigin(t, gate)
	keys := []string{"user:1", "user:2", "user:3"}
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{
		Freshness: agentapi.Freshness{TTL: agentapi.Duration(time.Hour)},
		Origins:   []agentapi.Origin{o.usersOrigin()},
		Warming:   agentapi.Warming{Keys: keys, Concurrency: 2, ReadinessGate: true},
	}})
	if code := probe(t, r, agentapi.PathHealthz); code != http.StatusOK {
		t.Fatalf("/healthz = %d while warming; want 200", code)
	}
	if code := probe(t, r, agentapi.PathReadyz); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d while warming; want 503", code)
	}
	if st, _ := r.admin.Status(ctx); st.Ready || st.Warming.Complete || st.Warming.Total != 3 {
		t.Fatalf("status while warming: ready %v, warming %+v", st.Ready, st.Warming)
	}
	close(gate)
	waitFor(t, "readiness after warming", func() bool { return probe(t, r, agentapi.PathReadyz) == http.StatusOK })
	st, err := r.admin.Status(ctx)
	if err != nil || !st.Ready || st.Warming != (agentapi.WarmingStatus{Total: 3, Done: 3, Complete: true}) {
		t.Fatalf("status after warming = %+v, %v", st.Warming, err)
	}
	for _, k := range keys {
		if v, err := r.data.Get(ctx, k); err != nil || v.Cache != agentapi.CacheHit {
			t.Fatalf("Get(%q) after warming = %v (X-Cache %q); want a HIT", k, err, v.Cache)
		}
	}
	if n := o.calls.Load(); n != 3 {
		t.Fatalf("origin calls = %d; want 3", n)
	}

	// A later policy with a gate does not take readiness away again.
	next := agentapi.Policy{Generation: 2, Origins: []agentapi.Origin{o.usersOrigin()},
		Warming: agentapi.Warming{Keys: []string{"user:9"}, ReadinessGate: true}}
	if _, err := r.admin.ApplyPolicy(ctx, next); err != nil {
		t.Fatal(err)
	}
	if code := probe(t, r, agentapi.PathReadyz); code != http.StatusOK {
		t.Fatalf("/readyz = %d after a second gated policy; want 200", code)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestReadinessOpensWhenWarmingTimesOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOrigin(t, make(chan struct{})) // never answers
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{
		Origins: []agentapi.Origin{o.usersOrigin()},
		Warming: agentapi.Warming{Keys: []string{"user:1"}, ReadinessGate: true,
			Timeout: agentapi.Duration(50 * time.Millisecond)},
	}})
	waitFor(t, "readiness after the warming timeout", func() bool {
		return probe(t, r, agentapi.PathReadyz) == http.StatusOK
	})
	st, err := r.admin.Status(ctx)
	if err != nil || !st.Warming.Complete || !st.Warming.TimedOut || st.Warming.Failed != 1 {
		t.Fatalf("warming status = %+v, %v; want complete, timed out, 1 failed", st.Warming, err)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	r := startAgent(t, agent.Options{})
	if _, err := r.data.Get(context.Background(), "absent"); err == nil {
		t.Fatal("Get(absent) succeeded")
	}
	resp, err := http.Get("http://" + r.probeAddr + agentapi.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, want := range []string{"layercache_misses_total{cache=\"agent\"} 1", "layercache_agent_ready 1"} {
		if !containsLine(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}
