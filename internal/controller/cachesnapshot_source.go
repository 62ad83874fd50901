package controller

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// snapshotSource is the pod chosen to write a snapshot, with its agent and
// the session the agent reported when asked.
type snapshotSource struct {
	pod    *corev1.Pod
	admin  agentconn.Admin
	status agentapi.Status
}

// noSource says why no source pod can be used. Terminal problems fail the
// snapshot at once (the user named a pod that cannot serve); the others
// are waited out, up to snapshotWaitLimit.
type noSource struct {
	reason   string
	message  string
	terminal bool
}

func (e *noSource) Error() string { return e.message }

// chooseSource picks the pod whose agent writes snap, by its strategy. A
// *noSource error says why there is none; any other error is the API
// server's.
func (r *CacheSnapshotReconciler) chooseSource(ctx context.Context, snap *v1alpha1.CacheSnapshot, policy *v1alpha1.CachePolicy) (*snapshotSource, error) {
	if snap.Spec.Source.Strategy == v1alpha1.SourcePod {
		return r.namedSource(ctx, snap.Spec.Source.PodName, policy)
	}
	return r.anyReadySource(ctx, policy)
}

// namedSource checks the pod the user named: it must exist, be active and
// be one of the policy's pods, else waiting will not help.
func (r *CacheSnapshotReconciler) namedSource(ctx context.Context, name string, policy *v1alpha1.CachePolicy) (*snapshotSource, error) {
	var pod corev1.Pod
	if err := r.Get(ctx, types.NamespacedName{Namespace: policy.Namespace, Name: name}, &pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &noSource{reason: v1alpha1.ReasonSnapshotFailed, terminal: true,
				message: fmt.Sprintf("source pod %q does not exist", name)}
		}
		return nil, fmt.Errorf("get source pod %s: %w", name, err)
	}
	if !isActive(&pod) {
		return nil, &noSource{reason: v1alpha1.ReasonSnapshotFailed, terminal: true,
			message: fmt.Sprintf("source pod %q is not running (phase %q, deleting %t, IP %q)", name, pod.Status.Phase, pod.DeletionTimestamp != nil, pod.Status.PodIP)}
	}
	sel, err := metav1.LabelSelectorAsSelector(&policy.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
		return nil, &noSource{reason: v1alpha1.ReasonSnapshotFailed, terminal: true,
			message: fmt.Sprintf("source pod %q is not selected by CachePolicy %q", name, policy.Name)}
	}
	src := &snapshotSource{pod: &pod}
	if err := r.poll(ctx, src, policy); err != nil {
		// The agent may be starting: wait for it like for a ready pod.
		return nil, &noSource{reason: v1alpha1.ReasonNoReadyPod,
			message: fmt.Sprintf("the agent of source pod %q does not answer: %v", name, err)}
	}
	return src, nil
}

// anyReadySource polls the agents of the policy's ready pods and prefers,
// in pod-name order, one that runs the policy's current hash: its cache
// was built under the configuration the snapshot will be restored into.
// Failing that, any ready pod whose agent answers will do.
func (r *CacheSnapshotReconciler) anyReadySource(ctx context.Context, policy *v1alpha1.CachePolicy) (*snapshotSource, error) {
	pods, err := selectedPods(ctx, r, policy, nil)
	if err != nil {
		return nil, fmt.Errorf("pods of policy %s: %w", policy.Name, err)
	}
	var candidates []*snapshotSource
	for i := range pods {
		if podReady(&pods[i]) {
			candidates = append(candidates, &snapshotSource{pod: &pods[i]})
		}
	}
	if len(candidates) == 0 {
		return nil, &noSource{reason: v1alpha1.ReasonNoReadyPod,
			message: fmt.Sprintf("CachePolicy %q selects no ready pod (%d active)", policy.Name, len(pods))}
	}
	errs := make([]error, len(candidates))
	var g errgroup.Group
	g.SetLimit(r.Options.StatusConcurrency)
	for i, c := range candidates {
		g.Go(func() error {
			errs[i] = r.poll(ctx, c, policy)
			return nil
		})
	}
	_ = g.Wait() // errors stay per candidate
	var fallback *snapshotSource
	for i, c := range candidates {
		if errs[i] != nil {
			continue
		}
		if policy.Status.PolicyHash != "" && c.status.PolicyHash == policy.Status.PolicyHash {
			return c, nil
		}
		if fallback == nil {
			fallback = c
		}
	}
	if fallback != nil {
		return fallback, nil
	}
	return nil, &noSource{reason: v1alpha1.ReasonNoReadyPod,
		message: fmt.Sprintf("no agent of the %d ready pods of CachePolicy %q answers: %v", len(candidates), policy.Name, errors.Join(errs...))}
}

// poll dials src's agent and reads its status.
func (r *CacheSnapshotReconciler) poll(ctx context.Context, src *snapshotSource, policy *v1alpha1.CachePolicy) error {
	admin, err := r.Options.Agents.For(src.pod, policy.Spec.AdminPort)
	if err != nil {
		return fmt.Errorf("dial agent of pod %s: %w", src.pod.Name, err)
	}
	cctx, cancel := context.WithTimeout(ctx, r.Options.AgentTimeout)
	defer cancel()
	st, err := admin.Status(cctx)
	if err != nil {
		return fmt.Errorf("status of agent of pod %s: %w", src.pod.Name, err)
	}
	// The snapshot records the agent's watermark, which counts the
	// invalidations of the policy the agent runs: one of another uid (a
	// deleted CachePolicy of the same name, not yet replaced on that pod)
	// would make agents restored from it look current to this one. An
	// agent that reports no uid predates policy uids: its watermark is
	// taken as it is.
	if st.PolicyUID != "" && st.PolicyUID != string(policy.UID) {
		return fmt.Errorf("agent of pod %s runs another CachePolicy (uid %s), whose invalidations its watermark counts", src.pod.Name, st.PolicyUID)
	}
	src.admin, src.status = admin, st
	return nil
}
