package controller

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent"
)

// gauge reads layercache_operator_agents for one policy and state; ok is
// false when the series does not exist.
func agentsGauge(t *testing.T, ns, policy, state string) (v float64, ok bool) {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "layercache_operator_agents" {
			continue
		}
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if got["namespace"] == ns && got["policy"] == policy && got["state"] == state {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func TestPolicyExportsAgentCountsAndForgetsADeletedPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	startFleet(t, ns, "metrics", 2, agent.Options{})
	startOperator(t, ns, Options{})
	p := newPolicy(ns, "metrics", "metrics", nil)
	mustCreate(t, p)
	waitPolicyCondition(t, ns, "metrics", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	eventually(t, "2 synced agents exported", func() error {
		if v, ok := agentsGauge(t, ns, "metrics", "synced"); !ok || v != 2 {
			return fmt.Errorf("synced gauge = %v (exists %v)", v, ok)
		}
		return nil
	})
	if err := k8s.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted policy's series dropped", func() error {
		if _, ok := agentsGauge(t, ns, "metrics", "selected"); ok {
			return fmt.Errorf("series still exported")
		}
		return nil
	})
}
