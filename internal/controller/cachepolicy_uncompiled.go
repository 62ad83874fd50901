package controller

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/layercache/layercache/api/v1alpha1"
)

// reconcileUncompiled is the pass over a policy that does not compile: its
// warming ConfigMap or snapshot is missing, say. Nothing is pushed and the
// bootstrap ConfigMap keeps the last compiled form, so agents run what they
// ran; status says why (Stalled, and Ready False with InvalidSpec), and
// the agent counts keep their last values.
//
// Invalidation catch-up and sync confirmation still run. They need the
// policy's selector and admin port (to reach its agents), its uid and
// status.invalidation.lastSequence, and its CacheInvalidations; nothing of
// the compiled form. Skipping them would hurt when it matters most: a pod
// restored from a snapshot would get no replay of what was invalidated
// since, wait out its warming timeout for a confirmation that never comes,
// and then serve those stale entries.
func (r *CachePolicyReconciler) reconcileUncompiled(ctx context.Context, policy *v1alpha1.CachePolicy, before *v1alpha1.CachePolicyStatus, compileErr error) (ctrl.Result, error) {
	r.stalled(policy, compileErr)
	agents, err := r.reachAgents(ctx, policy)
	if err != nil {
		// The spec is what needs fixing, and status says so; the agents
		// are looked at again at the resync.
		log.FromContext(ctx).Error(err, "reach the agents of a policy that does not compile", "policy", policy.Name)
	} else {
		r.catchUp(ctx, policy, agents)
	}
	if err := r.writeStatus(ctx, policy, before); err != nil {
		return ctrl.Result{}, err
	}
	if awaitsCatchUp(policy.Status.Invalidation.LastSequence, agents) {
		// A replay or a confirmation may have failed, and a restored pod
		// waits on it: look again soon, as during a rollout. Unreachable
		// agents do not count: their pods' events bring a pass, and every
		// pass here also repeats the compile failure's warning event.
		return ctrl.Result{RequeueAfter: min(r.Options.Resync, 2*time.Second)}, nil
	}
	// A ConfigMap or snapshot may appear later; the spec itself changes
	// through a watch event.
	return ctrl.Result{RequeueAfter: r.Options.Resync}, nil
}

// awaitsCatchUp reports whether, as this pass first saw them, a reachable
// agent was behind the policy's last sequence last or awaited the
// confirmation of a restore.
func awaitsCatchUp(last int64, views []*agentView) bool {
	for _, v := range views {
		if v.err == nil && (v.watermark < last || v.status.AwaitingSync) {
			return true
		}
	}
	return false
}
