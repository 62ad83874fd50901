package controller

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

func TestPlanCatchUp(t *testing.T) {
	t.Parallel()
	keys := func(k string) v1alpha1.InvalidationTarget { return v1alpha1.InvalidationTarget{Keys: []string{k}} }
	done := func(uid, key string) historyEntry { return historyEntry{uid: uid, complete: true, target: keys(key)} }
	running := historyEntry{uid: "run", running: true}
	failed := historyEntry{uid: "bad", target: keys("x")}
	replay := func(uid string, seq int64, key string) agentapi.InvalidationRequest {
		return agentapi.InvalidationRequest{UID: uid, Seq: seq, PolicyUID: "pol-uid", Target: agentapi.InvalidationTarget{Keys: []string{key}}, Layers: agentapi.LayersLocal}
	}
	flush := func(seq int64) []agentapi.InvalidationRequest {
		return []agentapi.InvalidationRequest{{UID: flushUID("pol-uid", seq), Seq: seq, PolicyUID: "pol-uid", Target: agentapi.InvalidationTarget{All: true}, Layers: agentapi.LayersLocal}}
	}
	tests := []struct {
		name        string
		from, last  int64
		entries     map[int64]historyEntry
		unsequenced bool
		want        []agentapi.InvalidationRequest
	}{
		{"a current agent gets nothing", 3, 3, map[int64]historyEntry{3: done("c", "k3")}, false, nil},
		{"an agent ahead of the policy gets nothing", 5, 3, nil, false, nil},
		{"every missed invalidation, in order", 0, 3,
			map[int64]historyEntry{1: done("a", "k1"), 2: done("b", "k2"), 3: done("c", "k3")}, false,
			[]agentapi.InvalidationRequest{replay("a", 1, "k1"), replay("b", 2, "k2"), replay("c", 3, "k3")}},
		{"only those after the agent's watermark", 2, 3,
			map[int64]historyEntry{1: done("a", "k1"), 2: done("b", "k2"), 3: done("c", "k3")}, false,
			[]agentapi.InvalidationRequest{replay("c", 3, "k3")}},
		{"up to a running invalidation", 0, 3,
			map[int64]historyEntry{1: done("a", "k1"), 2: running, 3: done("c", "k3")}, false,
			[]agentapi.InvalidationRequest{replay("a", 1, "k1")}},
		{"a deleted invalidation means a flush", 0, 3,
			map[int64]historyEntry{1: done("a", "k1"), 3: done("c", "k3")}, false, flush(3)},
		{"a failed invalidation means a flush", 1, 2, map[int64]historyEntry{2: failed}, false, flush(2)},
		{"a hole before a running invalidation flushes up to it", 0, 3,
			map[int64]historyEntry{2: done("b", "k2"), 3: running}, false, flush(2)},
		{"a hole while an invalidation waits for its number waits", 0, 3,
			map[int64]historyEntry{1: done("a", "k1"), 2: done("b", "k2")}, true,
			[]agentapi.InvalidationRequest{replay("a", 1, "k1"), replay("b", 2, "k2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := planCatchUp(tt.from, tt.last, history{bySeq: tt.entries, unsequenced: tt.unsequenced}, "pol-uid")
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("planCatchUp(%d, %d) = %+v, %v\nwant %+v", tt.from, tt.last, got, err, tt.want)
			}
		})
	}
}

func TestFlushUIDIsAValidAgentUID(t *testing.T) {
	t.Parallel()
	if err := agentapi.ValidateUID(flushUID("8d7f0c1e-5b0a-4b4e-9a51-0d6c1f2b3a4c", 1<<62)); err != nil {
		t.Fatal(err)
	}
}

// recordingAdmin passes calls through to a real agent and records the
// invalidations, in order.
type recordingAdmin struct {
	agentconn.Admin
	mu    sync.Mutex
	calls []agentapi.InvalidationRequest
}

func (r *recordingAdmin) Invalidate(ctx context.Context, uid string, req agentapi.InvalidationRequest) (agentapi.InvalidationResult, error) {
	r.mu.Lock()
	rec := req
	rec.UID = uid
	r.calls = append(r.calls, rec)
	r.mu.Unlock()
	return r.Admin.Invalidate(ctx, uid, req)
}

func (r *recordingAdmin) recorded() []agentapi.InvalidationRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]agentapi.InvalidationRequest(nil), r.calls...)
}

// writeHistory writes, without an operator, a policy whose ledger is at last
// and its finished invalidations #1..#last, each removing key "k<seq>".
func writeHistory(t *testing.T, ns string, last int64) (*v1alpha1.CachePolicy, []*v1alpha1.CacheInvalidation) {
	t.Helper()
	ctx := context.Background()
	policy := newPolicy(ns, "catalog", "nobody", nil)
	if err := k8s.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	policy.Status.Invalidation.LastSequence = last
	if err := k8s.Status().Update(ctx, policy); err != nil {
		t.Fatal(err)
	}
	var invs []*v1alpha1.CacheInvalidation
	for seq := int64(1); seq <= last; seq++ {
		key := "k" + strconv.FormatInt(seq, 10)
		inv := newInvalidation(ns, "inv-"+key, "catalog", func(s *v1alpha1.CacheInvalidationSpec) {
			s.Target = v1alpha1.InvalidationTarget{Keys: []string{key}}
		})
		if err := controllerutil.SetOwnerReference(policy, inv, scheme); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Create(ctx, inv); err != nil {
			t.Fatal(err)
		}
		start := metav1.Now()
		inv.Status.Sequence, inv.Status.StartTime = seq, &start
		markComplete(inv, time.Now(), "done")
		if err := k8s.Status().Update(ctx, inv); err != nil {
			t.Fatal(err)
		}
		invs = append(invs, inv)
	}
	return policy, invs
}

// fillKeys stores k1..k4 in the agent's memory.
func fillKeys(t *testing.T, ta *testAgent) {
	t.Helper()
	for _, k := range []string{"k1", "k2", "k3", "k4"} {
		if err := ta.data.Set(context.Background(), k, json.RawMessage(`"v"`), agentclient.SetOptions{}); err != nil {
			t.Fatalf("set %s: %v", k, err)
		}
	}
}

// assertAgentKeys checks which of k1..k4 the agent still holds.
func assertAgentKeys(t *testing.T, ta *testAgent, present map[string]bool) {
	t.Helper()
	for _, k := range []string{"k1", "k2", "k3", "k4"} {
		_, err := ta.data.Get(context.Background(), k)
		if got := err == nil; got != present[k] {
			t.Errorf("key %s present = %v (%v), want %v", k, got, err, present[k])
		}
		if err != nil && !agentclient.IsNotFound(err) {
			t.Errorf("get %s: %v", k, err)
		}
	}
}

func TestCatchUpReplaysMissedInvalidationsInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	policy, invs := writeHistory(t, ns, 3)
	ta := startAgent(t, agent.Options{Policy: &agentapi.Policy{UID: string(policy.UID)}})
	fillKeys(t, ta)
	behind := &recordingAdmin{Admin: ta.admin}
	current := &recordingAdmin{Admin: ta.admin}
	agents := []catchUpAgent{
		{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "new-0"}}, Admin: behind, LastSeq: 0},
		{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "old-0"}}, Admin: current, LastSeq: 3},
	}
	for i, err := range catchUpAgents(ctx, k8s, policy, agents, 5*time.Second) {
		if err != nil {
			t.Fatalf("agent %d: %v", i, err)
		}
	}
	var got []int64
	for i, c := range behind.recorded() {
		got = append(got, c.Seq)
		if c.UID != string(invs[i].UID) || c.Layers != agentapi.LayersLocal {
			t.Errorf("replay %d = %+v; want uid %s on the local tiers", i, c, invs[i].UID)
		}
	}
	if !reflect.DeepEqual(got, []int64{1, 2, 3}) {
		t.Fatalf("replayed sequences %v, want 1, 2, 3 in order", got)
	}
	if n := len(current.recorded()); n != 0 {
		t.Fatalf("an agent already current got %d calls", n)
	}
	st, err := ta.admin.Status(ctx)
	if err != nil || st.LastInvalidationSeq != 3 {
		t.Fatalf("agent status = %+v, %v; want watermark 3", st, err)
	}
	assertAgentKeys(t, ta, map[string]bool{"k4": true})
}

func TestCatchUpFlushesAnAgentThatMissedDeletedHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	policy, invs := writeHistory(t, ns, 3)
	if err := k8s.Delete(ctx, invs[1]); err != nil { // as history GC would
		t.Fatal(err)
	}
	ta := startAgent(t, agent.Options{Policy: &agentapi.Policy{UID: string(policy.UID)}})
	fillKeys(t, ta)
	rec := &recordingAdmin{Admin: ta.admin}
	errs := catchUpAgents(ctx, k8s, policy, []catchUpAgent{{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "new-0"}}, Admin: rec}}, 5*time.Second)
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	want := []agentapi.InvalidationRequest{{UID: flushUID(policy.UID, 3), Seq: 3, PolicyUID: string(policy.UID),
		Target: agentapi.InvalidationTarget{All: true}, Layers: agentapi.LayersLocal}}
	if got := rec.recorded(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %+v, want one flush %+v", got, want)
	}
	if st, err := ta.admin.Status(ctx); err != nil || st.LastInvalidationSeq != 3 {
		t.Fatalf("agent status = %+v, %v; want watermark 3", st, err)
	}
	assertAgentKeys(t, ta, nil)
}
