package controller

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// catchUpConcurrency bounds the agents caught up at once.
const catchUpConcurrency = 10

// catchUpAgent is an agent whose watermark (Status.LastInvalidationSeq)
// may be behind its policy's invalidation sequence: a pod started after
// invalidations ran, or restarted with a disk tier written before them.
type catchUpAgent struct {
	// Pod names the agent in errors.
	Pod *corev1.Pod
	// Admin reaches the agent.
	Admin agentconn.Admin
	// LastSeq is the agent's watermark of the policy's invalidations:
	// Status.LastInvalidationSeq when Status.PolicyUID is the policy's (or
	// names none: an agent older than policy uids), else 0. Replays name
	// the policy; an older agent that refuses the field gets them again
	// without it (see invalidate).
	LastSeq int64
}

func (a catchUpAgent) name() string {
	if a.Pod == nil {
		return "?"
	}
	return a.Pod.Name
}

// catchUpAgents brings every agent behind policy.status.invalidation
// .lastSequence up to date and returns one error per agent (nil when it
// is current or was caught up), in the order of agents.
//
// Each agent gets the completed invalidations it missed, replayed in
// sequence order to its local tiers with their own uid and sequence (an
// agent applies a uid once, so a replay it has seen is a no-op). When the
// retained history has a hole in the agent's range, the agent's local
// tiers are flushed instead; see planCatchUp. An agent is never moved past
// an invalidation that is still running, which reaches it (if it is a
// target) or is replayed once finished.
//
// c is read for the policy's CacheInvalidations (a cached client is fine:
// a stale copy can only delay a replay or order a flush); timeout bounds
// each call to an agent.
func catchUpAgents(ctx context.Context, c client.Reader, policy *v1alpha1.CachePolicy, agents []catchUpAgent, timeout time.Duration) []error {
	errs := make([]error, len(agents))
	last := policy.Status.Invalidation.LastSequence
	behind := false
	for _, a := range agents {
		behind = behind || a.LastSeq < last
	}
	if !behind {
		return errs
	}
	hist, err := readHistory(ctx, c, policy)
	for i, a := range agents {
		if err != nil && a.LastSeq < last {
			errs[i] = err
		}
	}
	if err != nil {
		return errs
	}
	var g errgroup.Group
	g.SetLimit(catchUpConcurrency)
	for i, a := range agents {
		if a.LastSeq >= last {
			continue
		}
		plan, err := planCatchUp(a.LastSeq, last, hist, policy.UID)
		if err != nil {
			errs[i] = fmt.Errorf("catch up pod %s: %w", a.name(), err)
			continue
		}
		g.Go(func() error {
			errs[i] = replay(ctx, a, plan, timeout)
			return nil
		})
	}
	_ = g.Wait() // errors stay per agent
	return errs
}

// replay sends the plan's requests in order, stopping at the first
// failure: a later one must not raise the watermark over a missed one.
func replay(ctx context.Context, a catchUpAgent, plan []agentapi.InvalidationRequest, timeout time.Duration) error {
	for _, req := range plan {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		_, err := invalidate(cctx, a.Admin, req)
		cancel()
		if err != nil {
			what := fmt.Sprintf("replay invalidation #%d", req.Seq)
			if req.Target.All {
				what = fmt.Sprintf("flush local tiers up to #%d", req.Seq)
			}
			return fmt.Errorf("catch up pod %s: %s: %w", a.name(), what, timeoutError(err, timeout))
		}
	}
	return nil
}

// historyEntry is what catch-up needs of one sequenced invalidation.
type historyEntry struct {
	uid string
	// complete is true for a run that finished Complete; false for one
	// still running or Failed (see running).
	complete bool
	running  bool
	target   v1alpha1.InvalidationTarget
}

// history is a policy's retained invalidations by sequence.
type history struct {
	bySeq map[int64]historyEntry
	// unsequenced is true while an invalidation of the policy waits for
	// its number: it may hold the newest one, taken from the policy but
	// not yet recorded in its own status.
	unsequenced bool
}

// readHistory lists the policy's invalidations. They are matched by
// spec.policyRef (immutable) and, once started, by owner uid: a policy
// deleted and created again starts its sequence over, and the old runs'
// numbers must not be taken for the new ones.
func readHistory(ctx context.Context, c client.Reader, policy *v1alpha1.CachePolicy) (history, error) {
	var list v1alpha1.CacheInvalidationList
	if err := c.List(ctx, &list, client.InNamespace(policy.Namespace)); err != nil {
		return history{}, fmt.Errorf("list invalidations of CachePolicy %s: %w", policy.Name, err)
	}
	h := history{bySeq: map[int64]historyEntry{}}
	for i := range list.Items {
		inv := &list.Items[i]
		if inv.Spec.PolicyRef.Name != policy.Name {
			continue
		}
		finished := isFinished(&inv.Status)
		if inv.Status.Sequence == 0 {
			h.unsequenced = h.unsequenced || !finished
			continue
		}
		if policyOwnerUID(inv) != policy.UID {
			continue
		}
		h.bySeq[inv.Status.Sequence] = historyEntry{
			uid:      string(inv.UID),
			complete: conditionTrue(inv.Status.Conditions, v1alpha1.ConditionComplete),
			running:  !finished,
			target:   inv.Spec.Target,
		}
	}
	return h, nil
}

// planCatchUp returns the requests that bring an agent from watermark
// from up to last (at most): the complete invalidations in (from, last],
// in order, up to the first one still running.
//
// A sequence with no complete invalidation before that point (deleted by
// history GC, Failed, or skipped when the operator died while starting a
// run) is a hole: what it removed cannot be replayed, so the plan is a
// single flush of the agent's local tiers, sequenced at the point reached,
// with a uid derived from the policy's uid and that sequence. A hole while
// some invalidation waits for its number may be that invalidation's: the
// plan then stops before it and a later pass decides.
func planCatchUp(from, last int64, h history, policyUID types.UID) ([]agentapi.InvalidationRequest, error) {
	var plan []agentapi.InvalidationRequest
	hole := false
	reached := from
walk:
	for seq := from + 1; seq <= last; seq++ {
		e, ok := h.bySeq[seq]
		switch {
		case ok && e.running, !ok && h.unsequenced:
			break walk
		case ok && e.complete:
			plan = append(plan, agentapi.InvalidationRequest{UID: e.uid, Seq: seq, PolicyUID: string(policyUID),
				Target: agentTarget(e.target), Layers: agentapi.LayersLocal})
		default:
			hole = true
		}
		reached = seq
	}
	if !hole {
		return plan, nil
	}
	uid := flushUID(policyUID, reached)
	if err := agentapi.ValidateUID(uid); err != nil {
		return nil, fmt.Errorf("flush uid: %w", err)
	}
	return []agentapi.InvalidationRequest{{UID: uid, Seq: reached, PolicyUID: string(policyUID),
		Target: agentapi.InvalidationTarget{All: true}, Layers: agentapi.LayersLocal}}, nil
}

// flushUID names the flush that brings agents to seq: the same for every
// agent of the policy, so an agent that already had it does nothing.
func flushUID(policyUID types.UID, seq int64) string {
	return fmt.Sprintf("flush-%s-%d", policyUID, seq)
}
