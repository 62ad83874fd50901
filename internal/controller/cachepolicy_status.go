package controller

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layercache/layercache/api/v1alpha1"
)

// maxProblemPods bounds status.pods.
const maxProblemPods = 20

// aggregate writes counts, the problem pods, the summary and the
// conditions of policy from what one pass saw. It is a pure function of
// its inputs.
func aggregate(policy *v1alpha1.CachePolicy, views []*agentView) {
	st, gen, hash := &policy.Status, policy.Generation, policy.Status.PolicyHash
	var n v1alpha1.AgentCounts
	var problems []v1alpha1.AgentPodStatus
	var warmingTimedOut int32
	for _, v := range views {
		n.Selected++
		ps := v1alpha1.AgentPodStatus{Name: v.pod.Name}
		if v.err != nil {
			n.Unreachable++
			ps.State, ps.Message = v1alpha1.AgentUnreachable, truncate(v.err.Error(), maxMessage)
			problems = append(problems, ps)
			continue
		}
		s := v.status
		ps.SessionID, ps.PolicyHash = s.SessionID, s.PolicyHash
		if s.Ready {
			n.Ready++
		}
		if s.Warming.Total > 0 && !s.Warming.Complete {
			n.Warming++
		}
		if s.Warming.TimedOut {
			warmingTimedOut++
		}
		switch {
		case v.rejected != "":
			n.Rejected++
			ps.State, ps.Message = v1alpha1.AgentRejected, truncate(v.rejected, maxMessage)
		case s.PolicyHash != hash:
			ps.State = v1alpha1.AgentPending
			if v.pushErr != nil {
				ps.Message = truncate("push failed: "+v.pushErr.Error(), maxMessage)
			}
		case s.Breakers.Open > 0:
			n.Synced++
			n.BreakerOpen++
			ps.State, ps.Message = v1alpha1.AgentBreakerOpen, fmt.Sprintf("%d circuit breaker(s) open", s.Breakers.Open)
		case s.Warming.Total > 0 && !s.Warming.Complete:
			n.Synced++
			ps.State, ps.Message = v1alpha1.AgentWarming, fmt.Sprintf("warming %d/%d", s.Warming.Done, s.Warming.Total)
		default:
			n.Synced++
			continue
		}
		problems = append(problems, ps)
	}
	slices.SortFunc(problems, func(a, b v1alpha1.AgentPodStatus) int { return strings.Compare(a.Name, b.Name) })
	if len(problems) > maxProblemPods {
		problems = problems[:maxProblemPods]
	}
	st.Agents, st.Pods = n, problems
	st.Summary = fmt.Sprintf("%d/%d", n.Synced, n.Selected)

	switch {
	case n.Selected == 0:
		setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNoPodsSelected,
			"no running pod matches spec.selector")
	case n.Unreachable == n.Selected:
		setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonAgentsUnreachable,
			fmt.Sprintf("none of the %d agents answered; check that the pods run the agent and that no NetworkPolicy blocks the operator from their admin port", n.Selected))
	case n.Synced == n.Selected:
		setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced,
			fmt.Sprintf("all %d agents run the policy", n.Selected))
	default:
		setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRollingOut,
			fmt.Sprintf("%d of %d agents run the policy (%d unreachable, %d rejected)", n.Synced, n.Selected, n.Unreachable, n.Rejected))
	}
	// Reconciling is abnormal-true: present only while a rollout is under way.
	if n.Selected > 0 && n.Synced+n.Rejected+n.Unreachable < n.Selected {
		setCondition(&st.Conditions, gen, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonRollingOut,
			fmt.Sprintf("pushing the policy: %d of %d agents done", n.Synced, n.Selected))
	} else {
		removeCondition(&st.Conditions, v1alpha1.ConditionReconciling)
	}
	switch {
	case n.Rejected > 0:
		setCondition(&st.Conditions, gen, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonAgentsRejectedPolicy,
			fmt.Sprintf("%d agent(s) refused the policy; see status.pods", n.Rejected))
	case n.BreakerOpen > 0:
		setCondition(&st.Conditions, gen, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonBreakerOpen,
			fmt.Sprintf("%d agent(s) have an open circuit breaker and serve from their local tiers", n.BreakerOpen))
	case warmingTimedOut > 0:
		setCondition(&st.Conditions, gen, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonWarmingTimedOut,
			fmt.Sprintf("%d agent(s) stopped warming at the timeout", warmingTimedOut))
	default:
		removeCondition(&st.Conditions, v1alpha1.ConditionDegraded)
	}
}

func removeCondition(conds *[]metav1.Condition, typ string) { meta.RemoveStatusCondition(conds, typ) }

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conds, typ)
}
