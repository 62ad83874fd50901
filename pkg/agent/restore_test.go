package agent_test

import (
	"context"
	"fmt"
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
	snap := snapshotAt(t, dir, 5)

	tests := []struct {
		name     string
		snapshot string
		wantWarm bool
		wantSeq  int64
	}{
		{"a readable snapshot", snap, true, 5},
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

// snapshotAt writes a snapshot into dir of an agent holding "a" (tagged
// sale) and "b", whose watermark is seq, and returns its path.
func snapshotAt(t *testing.T, dir string, seq int64) string {
	t.Helper()
	ctx := context.Background()
	src := startAgent(t, agent.Options{Policy: &agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: dir}}})
	must(t, src.data.Set(ctx, "a", raw(`1`), agentclient.SetOptions{TTL: time.Hour, Tags: []string{"sale"}}))
	must(t, src.data.Set(ctx, "b", raw(`2`), agentclient.SetOptions{TTL: time.Hour}))
	invalidateThrough(t, src, seq)
	snap, err := src.admin.Snapshot(ctx, "0b6d5c2a-2222-4222-8333-444455556666", agentapi.SnapshotRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return snap.Path
}

// invalidateAt applies an invalidation numbered seq (of a key nobody holds)
// to a's local tiers, as the operator does.
func invalidateAt(t *testing.T, a *running, seq int64) {
	t.Helper()
	uid := fmt.Sprintf("seq-%d", seq)
	if _, err := a.admin.Invalidate(context.Background(), uid, agentapi.InvalidationRequest{Seq: seq, Layers: agentapi.LayersLocal,
		Target: agentapi.InvalidationTarget{Keys: []string{"none"}}}); err != nil {
		t.Fatal(err)
	}
}

// invalidateThrough applies invalidations 1 to seq, in order, to a's
// local tiers: the watermark is then seq.
func invalidateThrough(t *testing.T, a *running, seq int64) {
	t.Helper()
	for s := int64(1); s <= seq; s++ {
		invalidateAt(t, a, s)
	}
}

// An agent restored from a snapshot is not ready until the operator
// confirms that its watermark includes every invalidation of the policy:
// until then it could serve entries an invalidation removed after the
// snapshot was taken.
func TestARestoredAgentIsReadyOnceTheOperatorConfirmsItsInvalidations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	snap := snapshotAt(t, filepath.Join(t.TempDir(), "snapshots"), 5)
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Warming: agentapi.Warming{
		Snapshot: snap, Timeout: agentapi.Duration(time.Hour)}}})
	status := func() agentapi.Status {
		t.Helper()
		st, err := r.admin.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := status(); !st.AwaitingSync || st.Ready {
		t.Fatalf("restored agent: awaitingSync %v, ready %v; want awaiting and not ready", st.AwaitingSync, st.Ready)
	}
	// Invalidation #6 ran after the snapshot: confirming #6 before it is
	// replayed keeps the gate.
	res, err := r.admin.Sync(ctx, agentapi.SyncRequest{LastSequence: 6})
	if err != nil || !res.AwaitingSync || res.Watermark != 5 {
		t.Fatalf("Sync(6) at watermark 5 = %+v, %v; want still awaiting at 5", res, err)
	}
	if st := status(); st.Ready {
		t.Fatal("ready before the missing invalidation was replayed")
	}
	invalidateAt(t, r, 6)
	res, err = r.admin.Sync(ctx, agentapi.SyncRequest{LastSequence: 6})
	if err != nil || res.AwaitingSync || res.Watermark != 6 {
		t.Fatalf("Sync(6) at watermark 6 = %+v, %v; want released", res, err)
	}
	if st := status(); st.AwaitingSync || !st.Ready {
		t.Fatalf("after the confirmation: awaitingSync %v, ready %v; want ready", st.AwaitingSync, st.Ready)
	}
	if _, err := r.admin.Sync(ctx, agentapi.SyncRequest{LastSequence: -1}); agentclient.CodeOf(err) != agentapi.CodeInvalidRequest {
		t.Fatalf("Sync(-1) = %v; want InvalidRequest", err)
	}
}

// Without the operator's word the restored agent becomes ready at the
// warming timeout, and an agent that restored nothing never waits.
func TestARestoredAgentIsReadyAtTheWarmingTimeoutWithoutTheOperator(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "snapshots")
	snap := snapshotAt(t, dir, 5)
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Warming: agentapi.Warming{
		Snapshot: snap, Timeout: agentapi.Duration(50 * time.Millisecond)}}})
	waitFor(t, "the restored agent ready after the warming timeout", func() bool {
		st, err := r.admin.Status(context.Background())
		return err == nil && st.Ready && !st.AwaitingSync
	})
	cold := startAgent(t, agent.Options{Policy: &agentapi.Policy{Warming: agentapi.Warming{
		Snapshot: filepath.Join(dir, "missing.lcs"), Timeout: agentapi.Duration(time.Hour)}}})
	if st, err := cold.admin.Status(context.Background()); err != nil || st.AwaitingSync || !st.Ready {
		t.Fatalf("agent whose snapshot is missing: %+v, %v; want ready, not awaiting", st, err)
	}
}
