package agent_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

func TestDiskTierSurvivesRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := agentapi.Policy{Generation: 1,
		Layers:    agentapi.Layers{Disk: &agentapi.DiskLayer{Dir: t.TempDir()}},
		Freshness: agentapi.Freshness{TTL: agentapi.Duration(time.Hour)}}
	first := startAgent(t, agent.Options{Policy: &p})
	for _, k := range []string{"user:1", "user:2", "cfg"} {
		must(t, first.data.Set(ctx, k, raw(`"`+k+`"`), agentclient.SetOptions{Tags: []string{"t-" + k[:3]}}))
	}
	invalidateThrough(t, first, 2)
	if _, err := first.admin.Invalidate(ctx, "i3", agentapi.InvalidationRequest{Seq: 3, Layers: agentapi.LayersLocal,
		Target: agentapi.InvalidationTarget{Keys: []string{"cfg"}}}); err != nil {
		t.Fatal(err)
	}
	first.stop()

	second := startAgent(t, agent.Options{Policy: &p})
	st, err := second.admin.Status(ctx)
	if err != nil || st.LastInvalidationSeq != 3 || st.SessionID == "" {
		t.Fatalf("status after restart = seq %d, session %q, %v; want the watermark kept with the disk tier", st.LastInvalidationSeq, st.SessionID, err)
	}
	if got := holding(t, second, "user:1"); got != "disk" {
		t.Fatalf("after restart user:1 is in %q; want disk", got)
	}
	if v, err := second.data.Get(ctx, "user:1"); err != nil || string(v.JSON) != `"user:1"` {
		t.Fatalf("Get after restart = %s, %v", v.JSON, err)
	}
	// Tags of records written before the restart are found.
	res, err := second.admin.Invalidate(ctx, "i4", agentapi.InvalidationRequest{Seq: 4, Layers: agentapi.LayersLocal,
		Target: agentapi.InvalidationTarget{Tags: &agentapi.TagTarget{Values: []string{"t-use"}}}})
	if err != nil || res.KeysRemoved != 2 {
		t.Fatalf("tag invalidation after restart = %+v, %v; want 2 keys", res, err)
	}
	if got := holding(t, second, "user:2"); got != "" {
		t.Fatalf("user:2 still in %q", got)
	}

	// A TTL change keeps the disk layer; a size change reopens it in place.
	must(t, second.data.Set(ctx, "kept", raw(`1`), agentclient.SetOptions{}))
	ttl := p
	ttl.Generation, ttl.Layers.Disk = 2, &agentapi.DiskLayer{Dir: p.Layers.Disk.Dir, TTL: agentapi.Duration(time.Minute)}
	if res, err := second.admin.ApplyPolicy(ctx, ttl); err != nil || !slices.Contains(res.Kept, "disk") {
		t.Fatalf("ApplyPolicy(disk ttl) = %+v, %v; want disk kept", res, err)
	}
	resized := ttl
	resized.Generation, resized.Layers.Disk = 3, &agentapi.DiskLayer{Dir: p.Layers.Disk.Dir, MaxBytes: 1 << 20}
	res2, err := second.admin.ApplyPolicy(ctx, resized)
	if err != nil || slices.Contains(res2.Kept, "disk") || !slices.Contains(res2.Kept, "memory") {
		t.Fatalf("ApplyPolicy(disk size) = %+v, %v; want disk reopened, memory kept", res2, err)
	}
	if got := holding(t, second, "kept"); got != "memory,disk" {
		t.Fatalf("after reopening the disk, kept is in %q; want memory,disk", got)
	}
	if st, _ := second.admin.Status(ctx); st.LastInvalidationSeq != 4 {
		t.Fatalf("watermark after reopening = %d; want 4", st.LastInvalidationSeq)
	}
}
