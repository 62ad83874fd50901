package controller

import (
	"testing"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// An agent older than policy uids refuses the policyUID field it does not
// know: the run sends it each purge (shared tier and local tiers) again
// without the field, and completes.
func TestRunPurgesAnAgentOlderThanPolicyUIDs(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	fake := startFake(t, true, nil)
	fake.mu.Lock()
	fake.legacy = true
	fake.mu.Unlock()
	createPod(t, ns, "old-0", map[string]string{"app": "old"}, fake.port)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "old", "old", func(s *v1alpha1.CachePolicySpec) {
		s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: "127.0.0.1:1", KeyPrefix: "old:"}
	}))
	mustCreate(t, newInvalidation(ns, "purge", "old", nil))

	inv := waitFinished(t, ns, "purge", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.refusals < 2 {
		t.Errorf("%d requests refused for their policyUID; want the shared and the local purge each refused once", fake.refusals)
	}
	for _, purge := range []struct {
		uid    string
		layers agentapi.LayerScope
	}{{sharedUID(inv), agentapi.LayersShared}, {string(inv.UID), agentapi.LayersLocal}} {
		if n := fake.countLocked(purge.uid, purge.layers); n != 1 {
			t.Errorf("%s purge accepted %d times; want once, without policyUID", purge.layers, n)
		}
	}
	if fake.seq != inv.Status.Sequence {
		t.Errorf("the agent's watermark is %d; want the run's sequence %d", fake.seq, inv.Status.Sequence)
	}
}
