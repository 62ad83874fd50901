package controller

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/layercache/layercache/api/v1alpha1"
)

// policyMetrics exports each policy's agent counts, so dashboards and
// alerts see a fleet's state without reading status. A nil *policyMetrics
// records nothing.
type policyMetrics struct {
	agents *prometheus.GaugeVec
}

func newPolicyMetrics(reg prometheus.Registerer) (*policyMetrics, error) {
	g, err := registerCollector(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "layercache", Subsystem: "operator", Name: "agents",
		Help: "Agents of each CachePolicy by state (selected, synced, ready, warming, breaker_open, unreachable, rejected), as of the last pass.",
	}, []string{"namespace", "policy", "state"}))
	if err != nil {
		return nil, err
	}
	return &policyMetrics{agents: g}, nil
}

// observe records the counts of policy's status.
func (m *policyMetrics) observe(policy *v1alpha1.CachePolicy) {
	if m == nil {
		return
	}
	n := policy.Status.Agents
	for state, v := range map[string]int32{
		"selected": n.Selected, "synced": n.Synced, "ready": n.Ready, "warming": n.Warming,
		"breaker_open": n.BreakerOpen, "unreachable": n.Unreachable, "rejected": n.Rejected,
	} {
		m.agents.WithLabelValues(policy.Namespace, policy.Name, state).Set(float64(v))
	}
}

// forget drops the series of a deleted policy.
func (m *policyMetrics) forget(namespace, name string) {
	if m == nil {
		return
	}
	m.agents.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "policy": name})
}
