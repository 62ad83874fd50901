package controller

import (
	"context"
	"errors"

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
	// watermark is status.LastInvalidationSeq when it counts the policy's
	// own invalidations (status.PolicyUID is the policy's uid), else 0:
	// the count of a deleted CachePolicy of the same name, or of whatever
	// the agent ran before, says nothing about this policy's sequences. An
	// agent that reports no uid predates policy uids (see legacy): its
	// watermark is taken as it is.
	watermark int64
	// err is why the agent could not be polled; the agent is unreachable.
	err error
	// rejected is why the agent refused the current policy.
	rejected string
	// pushErr is why a push of the current policy failed otherwise.
	pushErr error
}

// legacy reports whether the agent predates policy uids: its status
// names none (agents since report the uid of any policy they run, and every
// policy the operator compiles has one). Such an agent counts every
// sequence it is sent, and refuses request fields it does not know: its
// sync names no policy, and invalidations it refuses for their PolicyUID
// are sent again without it (invalidate).
func (v *agentView) legacy() bool { return v.status.PolicyUID == "" }

// policyUID is the PolicyUID to send v's agent for policy: none to a
// legacy agent.
func (v *agentView) policyUID(policy *v1alpha1.CachePolicy) string {
	if v.legacy() {
		return ""
	}
	return string(policy.UID)
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
			if v.err == nil && (v.legacy() || v.status.PolicyUID == string(policy.UID)) {
				v.watermark = v.status.LastInvalidationSeq
			}
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
				v.rejected = agentMessage(err)
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

// agentMessage is the agent's own explanation of a refusal, details
// included, or err's text when err is not an answer from an agent.
func agentMessage(err error) string {
	var e *agentclient.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	msg := e.Message
	for _, d := range e.Details {
		msg += "; " + d
	}
	return msg
}

// catchUp replays the invalidations that reachable agents missed (a pod
// that started, or came back with a disk tier, after they ran), then
// confirms to agents restored from a snapshot that they are current. A
// failure is logged and retried on the next pass; it does not hold up the
// rollout.
func (r *CachePolicyReconciler) catchUp(ctx context.Context, policy *v1alpha1.CachePolicy, views []*agentView) {
	last := policy.Status.Invalidation.LastSequence
	var behind []catchUpAgent
	var behindViews []*agentView
	for _, v := range views {
		if v.err == nil && v.watermark < last {
			behind = append(behind, catchUpAgent{Pod: v.pod, Admin: v.admin, LastSeq: v.watermark})
			behindViews = append(behindViews, v)
		}
	}
	caughtUp := make(map[*agentView]bool, len(behind))
	if len(behind) > 0 {
		for i, err := range catchUpAgents(ctx, r, policy, behind, r.Options.AgentTimeout) {
			if err != nil {
				log.FromContext(ctx).Error(err, "catch up agent", "pod", behind[i].Pod.Name)
				continue
			}
			caughtUp[behindViews[i]] = true
		}
	}
	r.confirmSync(ctx, policy, views, caughtUp)
}

// confirmSync tells each agent that awaits it (restored from a snapshot,
// agentapi.Status.AwaitingSync) and is current, or was just caught up, the
// policy's last sequence: the agent compares it with its watermark and
// becomes ready. An agent still short of it (an invalidation running when
// it was caught up) stays unready and is confirmed on a later pass.
func (r *CachePolicyReconciler) confirmSync(ctx context.Context, policy *v1alpha1.CachePolicy, views []*agentView, caughtUp map[*agentView]bool) {
	last := policy.Status.Invalidation.LastSequence
	var g errgroup.Group
	g.SetLimit(catchUpConcurrency)
	for _, v := range views {
		if v.err != nil || !v.status.AwaitingSync || (v.watermark < last && !caughtUp[v]) {
			continue
		}
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(ctx, r.Options.AgentTimeout)
			defer cancel()
			res, err := v.admin.Sync(cctx, agentapi.SyncRequest{LastSequence: last, PolicyUID: v.policyUID(policy)})
			switch {
			case err != nil:
				log.FromContext(ctx).Error(err, "confirm sync to agent restored from a snapshot", "pod", v.pod.Name)
			case res.AwaitingSync:
				log.FromContext(ctx).Info("agent restored from a snapshot is still behind", "pod", v.pod.Name,
					"watermark", res.Watermark, "lastSequence", last)
			}
			return nil
		})
	}
	_ = g.Wait() // every call logs its own failure
}
