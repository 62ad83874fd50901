package controller

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// defaultRolloutConcurrency is rollout.maxConcurrent when unset.
const defaultRolloutConcurrency = 10

// agentView is what one pass learned about one selected agent.
type agentView struct {
	pod    *corev1.Pod
	admin  agentconn.Admin
	status agentapi.Status
	// err is why the agent could not be polled; the agent is unreachable.
	err error
	// rejected is why the agent refused the current policy.
	rejected string
	// pushErr is why a push of the current policy failed otherwise.
	pushErr error
}

// observe polls every pod's agent, at most Options.StatusConcurrency at once.
func (r *CachePolicyReconciler) observe(ctx context.Context, policy *v1alpha1.CachePolicy, pods []corev1.Pod) []*agentView {
	views := make([]*agentView, len(pods))
	var g errgroup.Group
	g.SetLimit(r.Options.StatusConcurrency)
	for i := range pods {
		v := &agentView{pod: &pods[i]}
		views[i] = v
		g.Go(func() error {
			v.admin, v.err = r.Options.Agents.For(v.pod, policy.Spec.AdminPort)
			if v.err != nil {
				return nil
			}
			cctx, cancel := context.WithTimeout(ctx, r.Options.AgentTimeout)
			defer cancel()
			v.status, v.err = v.admin.Status(cctx)
			return nil
		})
	}
	_ = g.Wait() // every goroutine returns nil; errors stay per agent
	return views
}

// rollOut pushes compiled to the reachable agents that run something else,
// at most rollout.maxConcurrent at once. An agent that already refused this
// exact policy is not asked again: its answer will not change until the
// policy does.
func (r *CachePolicyReconciler) rollOut(ctx context.Context, policy *v1alpha1.CachePolicy, compiled agentapi.Policy, views []*agentView) {
	limit := defaultRolloutConcurrency
	if ro := policy.Spec.Rollout; ro != nil && ro.MaxConcurrent > 0 {
		limit = int(ro.MaxConcurrent)
	}
	var g errgroup.Group
	g.SetLimit(limit)
	for _, v := range views {
		if v.err != nil || v.status.PolicyHash == compiled.Hash {
			continue
		}
		if rj := v.status.Rejected; rj != nil && rj.Hash == compiled.Hash && rj.Generation == compiled.Generation {
			v.rejected = rj.Message
			continue
		}
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(ctx, r.Options.AgentTimeout)
			defer cancel()
			res, err := v.admin.ApplyPolicy(cctx, compiled)
			switch code := agentclient.CodeOf(err); {
			case err == nil:
				v.status.PolicyHash = res.Hash
				v.status.PolicyGeneration = res.Generation
			case code == agentapi.CodeInvalidPolicy || code == agentapi.CodeStaleGeneration:
				v.rejected = rejectionMessage(err)
			default:
				v.pushErr = err
			}
			return nil
		})
	}
	_ = g.Wait()
	for _, v := range views {
		if v.rejected != "" && r.Recorder != nil {
			r.Recorder.Eventf(policy, v.pod, corev1.EventTypeWarning, v1alpha1.ReasonAgentsRejectedPolicy, "Push",
				"agent of pod %s refused the policy: %s", v.pod.Name, truncate(v.rejected, maxMessage))
		}
	}
}

// rejectionMessage is the agent's explanation of a refusal, details included.
func rejectionMessage(err error) string {
	if e, ok := err.(*agentclient.Error); ok {
		msg := e.Message
		for _, d := range e.Details {
			msg += "; " + d
		}
		return msg
	}
	return fmt.Sprint(err)
}

// catchUp replays the invalidations that reachable agents missed (a pod
// that started, or came back with a disk tier, after they ran). A failure
// is logged and retried on the next pass; it does not hold up the rollout.
func (r *CachePolicyReconciler) catchUp(ctx context.Context, policy *v1alpha1.CachePolicy, views []*agentView) {
	var behind []catchUpAgent
	for _, v := range views {
		if v.err == nil && v.status.LastInvalidationSeq < policy.Status.Invalidation.LastSequence {
			behind = append(behind, catchUpAgent{Pod: v.pod, Admin: v.admin, LastSeq: v.status.LastInvalidationSeq})
		}
	}
	if len(behind) == 0 {
		return
	}
	for i, err := range catchUpAgents(ctx, r, policy, behind, r.Options.AgentTimeout) {
		if err != nil {
			log.FromContext(ctx).Error(err, "catch up agent", "pod", behind[i].Pod.Name)
		}
	}
}
