package controller

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

func view(name string, mod func(v *agentView)) *agentView {
	v := &agentView{pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}},
		status: agentapi.Status{SessionID: "s-" + name, PolicyHash: "h1", Ready: true}}
	if mod != nil {
		mod(v)
	}
	return v
}

func TestAggregateCountsAgentsAndSetsConditions(t *testing.T) {
	t.Parallel()
	unreachable := func(v *agentView) { v.err = errors.New("dial tcp: refused") }
	tests := []struct {
		name               string
		views              []*agentView
		summary            string
		ready, readyReason string
		degraded           string // "" means absent
		reconciling        bool
		problems           []v1alpha1.AgentState
		counts             v1alpha1.AgentCounts
	}{
		{
			name: "no pods selected", summary: "0/0",
			ready: "False", readyReason: v1alpha1.ReasonNoPodsSelected,
		},
		{
			name:    "every agent synced",
			views:   []*agentView{view("a", nil), view("b", nil)},
			summary: "2/2", ready: "True", readyReason: v1alpha1.ReasonAllAgentsSynced,
			counts: v1alpha1.AgentCounts{Selected: 2, Synced: 2, Ready: 2},
		},
		{
			name:    "one agent still on the old hash",
			views:   []*agentView{view("a", nil), view("b", func(v *agentView) { v.status.PolicyHash = "h0" })},
			summary: "1/2", ready: "False", readyReason: v1alpha1.ReasonRollingOut, reconciling: true,
			problems: []v1alpha1.AgentState{v1alpha1.AgentPending},
			counts:   v1alpha1.AgentCounts{Selected: 2, Synced: 1, Ready: 2},
		},
		{
			name:    "every agent unreachable",
			views:   []*agentView{view("a", unreachable), view("b", unreachable)},
			summary: "0/2", ready: "False", readyReason: v1alpha1.ReasonAgentsUnreachable,
			problems: []v1alpha1.AgentState{v1alpha1.AgentUnreachable, v1alpha1.AgentUnreachable},
			counts:   v1alpha1.AgentCounts{Selected: 2, Unreachable: 2},
		},
		{
			name: "an agent rejected the policy",
			views: []*agentView{view("a", nil), view("b", func(v *agentView) {
				v.status.PolicyHash = "h0"
				v.rejected = "layers.redis.addr: required"
			})},
			summary: "1/2", ready: "False", readyReason: v1alpha1.ReasonRollingOut,
			degraded: v1alpha1.ReasonAgentsRejectedPolicy,
			problems: []v1alpha1.AgentState{v1alpha1.AgentRejected},
			counts:   v1alpha1.AgentCounts{Selected: 2, Synced: 1, Ready: 2, Rejected: 1},
		},
		{
			name:    "a breaker is open",
			views:   []*agentView{view("a", func(v *agentView) { v.status.Breakers.Open = 1 })},
			summary: "1/1", ready: "True", readyReason: v1alpha1.ReasonAllAgentsSynced,
			degraded: v1alpha1.ReasonBreakerOpen,
			problems: []v1alpha1.AgentState{v1alpha1.AgentBreakerOpen},
			counts:   v1alpha1.AgentCounts{Selected: 1, Synced: 1, Ready: 1, BreakerOpen: 1},
		},
		{
			name: "an agent is warming",
			views: []*agentView{view("a", func(v *agentView) {
				v.status.Ready = false
				v.status.Warming = agentapi.WarmingStatus{Total: 10, Done: 3}
			})},
			summary: "1/1", ready: "True", readyReason: v1alpha1.ReasonAllAgentsSynced,
			problems: []v1alpha1.AgentState{v1alpha1.AgentWarming},
			counts:   v1alpha1.AgentCounts{Selected: 1, Synced: 1, Warming: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &v1alpha1.CachePolicy{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
			p.Status.PolicyHash = "h1"
			aggregate(p, tt.views)
			st := p.Status
			if st.Summary != tt.summary || st.Agents != tt.counts {
				t.Fatalf("summary %q counts %+v; want %q %+v", st.Summary, st.Agents, tt.summary, tt.counts)
			}
			ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
			if ready == nil || string(ready.Status) != tt.ready || ready.Reason != tt.readyReason || ready.ObservedGeneration != 3 {
				t.Fatalf("Ready = %+v; want %s/%s at generation 3", ready, tt.ready, tt.readyReason)
			}
			deg := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionDegraded)
			if (deg == nil) != (tt.degraded == "") || (deg != nil && deg.Reason != tt.degraded) {
				t.Fatalf("Degraded = %+v; want reason %q", deg, tt.degraded)
			}
			if rec := meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionReconciling); rec != tt.reconciling {
				t.Fatalf("Reconciling = %v, want %v", rec, tt.reconciling)
			}
			if len(st.Pods) != len(tt.problems) {
				t.Fatalf("problem pods %+v; want states %v", st.Pods, tt.problems)
			}
			for i, ps := range st.Pods {
				if ps.State != tt.problems[i] {
					t.Fatalf("pod %s state %s; want %s", ps.Name, ps.State, tt.problems[i])
				}
			}
		})
	}
}

func TestAggregateCapsTheProblemPodList(t *testing.T) {
	t.Parallel()
	var views []*agentView
	for i := range 50 {
		views = append(views, view(string(rune('a'+i%26))+string(rune('a'+i/26)), func(v *agentView) { v.err = errors.New("down") }))
	}
	p := &v1alpha1.CachePolicy{}
	aggregate(p, views)
	if len(p.Status.Pods) != maxProblemPods || p.Status.Agents.Unreachable != 50 {
		t.Fatalf("%d problem pods listed, %d counted unreachable; want %d listed, 50 counted", len(p.Status.Pods), p.Status.Agents.Unreachable, maxProblemPods)
	}
}

func TestTruncateKeepsRunesWhole(t *testing.T) {
	t.Parallel()
	s := truncate("ééééé", 6)
	if len(s) > 6 || s != "é…" {
		t.Fatalf("truncate = %q (%d bytes)", s, len(s))
	}
}
