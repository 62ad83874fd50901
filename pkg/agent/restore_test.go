package agent_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

// An agent that starts with a warming snapshot serves its entries (tags
// included) and reports the snapshot's watermark, so the operator replays
// only the invalidations that came after it.
func TestAgentStartsWarmFromASnapshotWithItsWatermark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "snapshots")
	src := startAgent(t, agent.Options{Policy: &agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: dir}}})
	must(t, src.data.Set(ctx, "a", raw(`1`), agentclient.SetOptions{TTL: time.Hour, Tags: []string{"sale"}}))
	must(t, src.data.Set(ctx, "b", raw(`2`), agentclient.SetOptions{TTL: time.Hour}))
	if _, err := src.admin.Invalidate(ctx, "seq-5", agentapi.InvalidationRequest{Seq: 5, Layers: agentapi.LayersLocal,
		Target: agentapi.InvalidationTarget{Keys: []string{"none"}}}); err != nil {
		t.Fatal(err)
	}
	snap, err := src.admin.Snapshot(ctx, "0b6d5c2a-2222-4222-8333-444455556666", agentapi.SnapshotRequest{})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		snapshot string
		wantWarm bool
		wantSeq  int64
	}{
		{"a readable snapshot", snap.Path, true, 5},
		{"a missing snapshot starts cold", filepath.Join(dir, "missing.lcs"), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Warming: agentapi.Warming{Snapshot: tt.snapshot}}})
			st, err := r.admin.Status(ctx)
			if err != nil || st.LastInvalidationSeq != tt.wantSeq {
				t.Fatalf("status = %+v, %v; want watermark %d", st, err, tt.wantSeq)
			}
			_, err = r.data.Get(ctx, "b")
			if tt.wantWarm != (err == nil) {
				t.Fatalf("Get(b) = %v; want it served: %v", err, tt.wantWarm)
			}
			if !tt.wantWarm {
				return
			}
			if n, err := r.data.InvalidateTags(ctx, []string{"sale"}, agentapi.MatchAny); err != nil || n != 1 {
				t.Fatalf("InvalidateTags(sale) on the restored agent = %d, %v; want 1 (tags survive)", n, err)
			}
		})
	}
}
