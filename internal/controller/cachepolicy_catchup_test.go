package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

// A pod that joins after an invalidation ran (or comes back with a disk
// tier written before it) is caught up by the policy: the invalidation is
// replayed to it, and entries it selects disappear from the late agent.
func TestPolicyReplaysMissedInvalidationsToALateAgent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	shopAfterOneInvalidation(t, ns)

	late := startAgent(t, agent.Options{})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(late.data.Set(ctx, "price:1", []byte(`"9.99"`), agentclient.SetOptions{Tags: []string{"sale"}}))
	must(late.data.Set(ctx, "price:2", []byte(`"19.99"`), agentclient.SetOptions{Tags: []string{"regular"}}))
	createPod(t, ns, "shop-late", map[string]string{"app": "shop"}, late.adminPort)

	eventually(t, "the late agent caught up", func() error {
		st, err := late.admin.Status(ctx)
		if err != nil {
			return err
		}
		if st.LastInvalidationSeq != 1 {
			return fmt.Errorf("late agent watermark %d, want 1", st.LastInvalidationSeq)
		}
		return nil
	})
	if _, err := late.data.Get(ctx, "price:1"); !agentclient.IsNotFound(err) {
		t.Fatalf("Get(price:1, tagged sale) after catch-up = %v; want not found", err)
	}
	if _, err := late.data.Get(ctx, "price:2"); err != nil {
		t.Fatalf("Get(price:2, untagged) after catch-up = %v; want it kept", err)
	}
}

// An agent restored from a snapshot waits for the operator's word before it
// is ready: the policy replays what the snapshot missed, then confirms the
// last sequence, and only then does the agent stop awaiting.
func TestPolicyConfirmsARestoredAgentOnlyOnceItIsCaughtUp(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	shopAfterOneInvalidation(t, ns)

	restored := restoredAgentConfirmed(t, ns)
	restored.mu.Lock()
	defer restored.mu.Unlock()
	for _, last := range restored.syncs {
		if last != 1 {
			t.Errorf("sync with lastSequence %d, want 1", last)
		}
	}
	// The fake stops awaiting only at watermark 1: the replay of #1 came
	// first.
	if len(restored.calls) == 0 || restored.calls[0].Seq != 1 {
		t.Errorf("replays %+v; want #1 replayed", restored.calls)
	}
}

// An agent whose watermark counts the invalidations of another policy (a
// deleted CachePolicy of the same name, whose sequences ran higher) is not
// current to this one: the policy replays its invalidations from #1, for
// its own uid, and does not confirm the agent while it runs the other
// policy (here it refuses this one).
func TestPolicyDoesNotTrustAWatermarkOfAnotherPolicy(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	shopAfterOneInvalidation(t, ns)
	uid := string(getPolicy(t, ns, "shop").UID)

	old := startFake(t, false, nil)
	old.mu.Lock()
	old.policyUID, old.seq, old.awaiting, old.refusePolicy = "a-deleted-policy", 7, true, true
	old.mu.Unlock()
	createPod(t, ns, "shop-old", map[string]string{"app": "shop"}, old.port)
	eventually(t, "#1 replayed and a confirmation sent", func() error {
		old.mu.Lock()
		defer old.mu.Unlock()
		if len(old.calls) == 0 || len(old.syncs) == 0 {
			return fmt.Errorf("replays %+v, syncs %v", old.calls, old.syncs)
		}
		return nil
	})
	old.mu.Lock()
	defer old.mu.Unlock()
	if c := old.calls[0]; c.Seq != 1 || c.PolicyUID != uid {
		t.Errorf("first replay %+v; want #1 of policy %s", c, uid)
	}
	if !old.awaiting || old.seq != 7 {
		t.Errorf("awaiting %v at watermark %d; want still awaiting at the other policy's 7", old.awaiting, old.seq)
	}
}

// A policy that stops compiling (its warming snapshot or ConfigMap is
// missing) pushes nothing and says why, yet still replays missed
// invalidations and confirms restored agents: neither needs the compiled
// policy, and a restored pod left unconfirmed would serve stale entries
// once its warming timeout passed.
func TestPolicyThatDoesNotCompileStillCatchesUpAndConfirms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		warming v1alpha1.WarmingSpec
		missing string // named by the Stalled message
	}{
		{"its warming snapshot is gone", v1alpha1.WarmingSpec{FromSnapshot: &v1alpha1.LocalObjectReference{Name: "gone"}}, "gone"},
		{"its warming ConfigMap is missing", v1alpha1.WarmingSpec{KeysFrom: &v1alpha1.ConfigMapKeyRef{Name: "no-keys", Key: "keys"}}, "no-keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ns := newNamespace(t)
			shopAfterOneInvalidation(t, ns)
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				p := getPolicy(t, ns, "shop")
				p.Spec.Warming = &tt.warming
				return k8s.Update(ctx, p)
			})
			if err != nil {
				t.Fatalf("point the policy's warming at %s: %v", tt.missing, err)
			}
			p := waitPolicyCondition(t, ns, "shop", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec)
			if msg := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionStalled).Message; !strings.Contains(msg, tt.missing) {
				t.Fatalf("Stalled message %q does not name %s", msg, tt.missing)
			}

			restored := restoredAgentConfirmed(t, ns)
			restored.mu.Lock()
			if len(restored.calls) == 0 || restored.calls[0].Seq != 1 || restored.seq != 1 {
				t.Errorf("replays %+v, watermark %d; want #1 replayed", restored.calls, restored.seq)
			}
			if restored.hash != "" {
				t.Errorf("the agent was pushed policy %q; want nothing pushed while the policy does not compile", restored.hash)
			}
			restored.mu.Unlock()

			p = getPolicy(t, ns, "shop")
			for _, typ := range []string{v1alpha1.ConditionStalled, v1alpha1.ConditionReady} {
				if c := meta.FindStatusCondition(p.Status.Conditions, typ); c == nil || c.Reason != v1alpha1.ReasonInvalidSpec {
					t.Errorf("%s = %+v; want it still to report the compile failure", typ, c)
				}
			}
		})
	}
}

// shopAfterOneInvalidation runs the operator for ns with a policy "shop"
// over one agent (pod shop-0, labels app=shop), and waits until the
// invalidation #1 "sale-over" (tag sale) has completed on it.
func shopAfterOneInvalidation(t *testing.T, ns string) {
	t.Helper()
	startFleet(t, ns, "shop", 1, agent.Options{})
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "shop", "shop", nil))
	waitPolicyCondition(t, ns, "shop", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	mustCreate(t, newInvalidation(ns, "sale-over", "shop", func(s *v1alpha1.CacheInvalidationSpec) {
		s.Target = v1alpha1.InvalidationTarget{Tags: &v1alpha1.TagTarget{Values: []string{"sale"}}}
	}))
	waitFinished(t, ns, "sale-over", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
}

// restoredAgentConfirmed starts a fake agent of the "shop" policy in ns
// that plays one restored from a snapshot at watermark 0 (so #1 is
// missing), and waits until the operator has confirmed it.
func restoredAgentConfirmed(t *testing.T, ns string) *fakeAgent {
	t.Helper()
	restored := startFake(t, false, nil)
	restored.mu.Lock()
	restored.awaiting = true
	// It restored a snapshot of the shop policy, whose uid its bootstrap
	// policy carries.
	restored.policyUID = string(getPolicy(t, ns, "shop").UID)
	restored.mu.Unlock()
	createPod(t, ns, "shop-restored", map[string]string{"app": "shop"}, restored.port)
	eventually(t, "the restored agent confirmed", func() error {
		restored.mu.Lock()
		defer restored.mu.Unlock()
		if restored.awaiting {
			return fmt.Errorf("still awaiting sync (watermark %d, syncs %v)", restored.seq, restored.syncs)
		}
		return nil
	})
	return restored
}
