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

// send applies one invalidation of a key nobody holds (of every key with
// all) to a, numbered seq.
func send(t *testing.T, a *running, uid string, seq int64, layers agentapi.LayerScope, all bool) {
	t.Helper()
	target := agentapi.InvalidationTarget{Keys: []string{"none"}}
	if all {
		target = agentapi.InvalidationTarget{All: true}
	}
	if _, err := a.admin.Invalidate(context.Background(), uid, agentapi.InvalidationRequest{Seq: seq,
		Layers: layers, Target: target}); err != nil {
		t.Fatalf("invalidation %s (#%d): %v", uid, seq, err)
	}
}

// watermarkOf returns a's Status.LastInvalidationSeq.
func watermarkOf(t *testing.T, a *running) int64 {
	t.Helper()
	st, err := a.admin.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.LastInvalidationSeq
}

// The operator reads the watermark as "every invalidation up to here was
// applied": it must stop below a sequence this agent has not applied,
// whatever came after it.
func TestTheWatermarkNeverPassesAMissingSequence(t *testing.T) {
	t.Parallel()
	type step struct {
		seq    int64
		layers agentapi.LayerScope
		all    bool
	}
	local := func(seqs ...int64) []step {
		var out []step
		for _, s := range seqs {
			out = append(out, step{seq: s, layers: agentapi.LayersLocal})
		}
		return out
	}
	tests := []struct {
		name  string
		steps []step
		want  int64
	}{
		{"every sequence in order counts", local(1, 2, 3), 3},
		{"a sequence above a hole waits", local(2, 3), 0},
		{"filling the hole passes what waited above it", local(2, 3, 1), 3},
		{"a later hole stops it again", local(1, 3, 4), 1},
		{"an older sequence does not lower it", local(1, 2, 1), 2},
		{"through all layers it counts", []step{{1, agentapi.LayersAll, false}}, 1},
		{"a shared pass does not count", []step{{1, agentapi.LayersLocal, false}, {2, agentapi.LayersShared, false}}, 1},
		{"a flush covers the sequences before it", []step{{3, agentapi.LayersLocal, false}, {2, agentapi.LayersLocal, true}}, 3},
		{"a flush does not cover the sequences after it", []step{{4, agentapi.LayersLocal, false}, {2, agentapi.LayersLocal, true}}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := startAgent(t, agent.Options{})
			for i, s := range tc.steps {
				send(t, r, fmt.Sprintf("step-%d", i), s.seq, s.layers, s.all)
			}
			if got := watermarkOf(t, r); got != tc.want {
				t.Fatalf("after %+v: watermark %d; want %d", tc.steps, got, tc.want)
			}
		})
	}
}

// A pod restored from a snapshot at watermark 0 whose replay of #1 failed
// while #2 reached it must stay unready until #1 is applied: confirmed at
// #2, it would serve the entries #1 removed.
func TestARestoredAgentWithAHoleStaysUnreadyUntilItIsFilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	snap := snapshotAt(t, filepath.Join(t.TempDir(), "snapshots"), 0)
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Warming: agentapi.Warming{
		Snapshot: snap, Timeout: agentapi.Duration(time.Hour)}}})

	send(t, r, "inv-2", 2, agentapi.LayersLocal, false)
	res, err := r.admin.Sync(ctx, agentapi.SyncRequest{LastSequence: 2})
	if err != nil || !res.AwaitingSync || res.Watermark != 0 {
		t.Fatalf("Sync(2) with #1 missing = %+v, %v; want still awaiting at watermark 0", res, err)
	}
	if st, err := r.admin.Status(ctx); err != nil || st.Ready || st.LastInvalidationSeq != 0 {
		t.Fatalf("status with #1 missing: ready %v, watermark %d, %v; want unready at 0", st.Ready, st.LastInvalidationSeq, err)
	}
	if _, err := r.data.Get(ctx, "a"); err != nil {
		t.Fatalf("Get(a) before #1: %v; want the restored entry", err)
	}

	// #1, replayed at last, removes "a".
	if _, err := r.admin.Invalidate(ctx, "inv-1", agentapi.InvalidationRequest{Seq: 1, Layers: agentapi.LayersLocal,
		Target: agentapi.InvalidationTarget{Keys: []string{"a"}}}); err != nil {
		t.Fatal(err)
	}
	res, err = r.admin.Sync(ctx, agentapi.SyncRequest{LastSequence: 2})
	if err != nil || res.AwaitingSync || res.Watermark != 2 {
		t.Fatalf("Sync(2) after #1 = %+v, %v; want released at watermark 2", res, err)
	}
	if st, err := r.admin.Status(ctx); err != nil || !st.Ready {
		t.Fatalf("status after the confirmation: ready %v, %v; want ready", st.Ready, err)
	}
	if _, err := r.data.Get(ctx, "a"); !agentclient.IsNotFound(err) {
		t.Fatalf("Get(a) after #1: %v; want NotFound", err)
	}
}

// A snapshot of an agent with a hole records the watermark below it, so an
// agent restored from it gets the missing invalidation replayed.
func TestASnapshotOfAnAgentWithAHoleRecordsTheWatermarkBelowIt(t *testing.T) {
	t.Parallel()
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: t.TempDir()}}})
	send(t, r, "inv-1", 1, agentapi.LayersLocal, false)
	send(t, r, "inv-3", 3, agentapi.LayersLocal, false)
	res, err := r.admin.Snapshot(context.Background(), "0b6d5c2a-3333-4222-8333-444455556666", agentapi.SnapshotRequest{})
	if err != nil || res.Watermark != 1 {
		t.Fatalf("Snapshot with #2 missing = %+v, %v; want watermark 1", res, err)
	}
}

// The watermark stored with the disk tier is the contiguous one; what was
// applied above a hole is not stored, so after a restart the operator
// replays it again from the watermark.
func TestARestartKeepsTheWatermarkBelowAHole(t *testing.T) {
	t.Parallel()
	p := agentapi.Policy{Generation: 1, Layers: agentapi.Layers{Disk: &agentapi.DiskLayer{Dir: t.TempDir()}}}
	first := startAgent(t, agent.Options{Policy: &p})
	must(t, first.data.Set(context.Background(), "k", raw(`1`), agentclient.SetOptions{}))
	send(t, first, "inv-1", 1, agentapi.LayersLocal, false)
	send(t, first, "inv-3", 3, agentapi.LayersLocal, false)
	first.stop()

	second := startAgent(t, agent.Options{Policy: &p})
	if got := watermarkOf(t, second); got != 1 {
		t.Fatalf("watermark after restart with #2 missing = %d; want 1", got)
	}
	for _, s := range []int64{2, 3} {
		send(t, second, fmt.Sprintf("inv-%d", s), s, agentapi.LayersLocal, false)
	}
	if got := watermarkOf(t, second); got != 3 {
		t.Fatalf("watermark after the replay of #2 and #3 = %d; want 3", got)
	}
}

// A deleted and re-created CachePolicy numbers its invalidations from 1
// again: the agent's watermark, stored with the disk tier too, must not
// carry the old policy's count over to the new one, or the operator would
// skip replaying the new policy's invalidations to it.
func TestAPolicyOfAnotherUIDStartsTheWatermarkAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const uidA, uidB = "0b6d5c2a-aaaa-4222-8333-444455556666", "0b6d5c2a-bbbb-4222-8333-444455556666"
	disk := &agentapi.DiskLayer{Dir: t.TempDir()}
	pa := agentapi.Policy{Generation: 3, UID: uidA, Layers: agentapi.Layers{Disk: disk}}
	r := startAgent(t, agent.Options{Policy: &pa})
	must(t, r.data.Set(ctx, "k", raw(`1`), agentclient.SetOptions{}))
	for seq := int64(1); seq <= 2; seq++ {
		if _, err := r.admin.Invalidate(ctx, fmt.Sprintf("a-%d", seq), agentapi.InvalidationRequest{Seq: seq, PolicyUID: uidA,
			Layers: agentapi.LayersLocal, Target: agentapi.InvalidationTarget{Keys: []string{"none"}}}); err != nil {
			t.Fatal(err)
		}
	}
	position := func(a *running) (string, int64) {
		t.Helper()
		st, err := a.admin.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.PolicyUID, st.LastInvalidationSeq
	}
	if uid, w := position(r); uid != uidA || w != 2 {
		t.Fatalf("status under policy A = %q, %d; want %q, 2", uid, w, uidA)
	}

	pb := agentapi.Policy{Generation: 1, UID: uidB, Layers: agentapi.Layers{Disk: disk}}
	if _, err := r.admin.ApplyPolicy(ctx, pb); err != nil {
		t.Fatal(err)
	}
	if uid, w := position(r); uid != uidB || w != 0 {
		t.Fatalf("status after applying the re-created policy B = %q, %d; want %q, 0", uid, w, uidB)
	}
	r.stop()

	again := startAgent(t, agent.Options{Policy: &pa})
	if uid, w := position(again); uid != uidA || w != 0 {
		t.Fatalf("status after restarting under A on B's disk tier = %q, %d; want %q, 0", uid, w, uidA)
	}
}

// The operator confirms a restored agent for one policy: a confirmation
// naming another policy than the one the watermark counts keeps the
// readiness gate held.
func TestASyncForAnotherPolicyKeepsARestoredAgentUnready(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const uid, other = "0b6d5c2a-aaaa-4222-8333-444455556666", "0b6d5c2a-bbbb-4222-8333-444455556666"
	snap := snapshotAt(t, filepath.Join(t.TempDir(), "snapshots"), 0)
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{UID: uid, Warming: agentapi.Warming{
		Snapshot: snap, Timeout: agentapi.Duration(time.Hour)}}})
	res, err := r.admin.Sync(ctx, agentapi.SyncRequest{LastSequence: 0, PolicyUID: other})
	if err != nil || !res.AwaitingSync {
		t.Fatalf("Sync for another policy = %+v, %v; want still awaiting", res, err)
	}
	res, err = r.admin.Sync(ctx, agentapi.SyncRequest{LastSequence: 0, PolicyUID: uid})
	if err != nil || res.AwaitingSync {
		t.Fatalf("Sync for the applied policy = %+v, %v; want released", res, err)
	}
}
