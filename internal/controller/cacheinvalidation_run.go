package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

const (
	// passBudget bounds how long a pass keeps starting calls to agents, so
	// that progress reaches status at least this often (plus one per-pod
	// timeout).
	passBudget = 2 * time.Second
	// sharedCandidates bounds the pods one attempt at the shared tier
	// tries before it counts as failed.
	sharedCandidates = 3
)

// run is one pass over a started invalidation: the shared tier until it
// is done, then the pods that are due, then one status write.
func (r *CacheInvalidationReconciler) run(ctx context.Context, inv *v1alpha1.CacheInvalidation, policy *v1alpha1.CachePolicy) (ctrl.Result, error) {
	now := time.Now()
	params := paramsOf(&inv.Spec)
	before := inv.Status.DeepCopy()
	book, err := readBook(inv)
	if err != nil {
		// Only an edited annotation gets here: the run no longer knows
		// its pods.
		markFailed(inv, now, v1alpha1.ReasonTargetsUnreadable, err.Error())
		_, err := r.commit(ctx, inv, before)
		return ctrl.Result{}, err
	}
	deadline := inv.Status.StartTime.Add(params.activeDeadline)
	if !now.Before(deadline) {
		book.abandon(now, "not acknowledged within activeDeadlineSeconds")
		book.render(&inv.Status)
		markFailed(inv, now, v1alpha1.ReasonDeadlineExceeded, fmt.Sprintf("activeDeadlineSeconds (%s) passed with %s pods purged", params.activeDeadline, inv.Status.Progress))
		_, err := r.commit(ctx, inv, before)
		return ctrl.Result{}, err
	}

	book.admit()
	live := r.observePods(ctx, inv.Namespace, book, now)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	// Redis first: a pod purged before it could refill its memory from
	// the stale shared copy. A failed attempt is retried only at its
	// nextAttemptTime, after the same delays as a pod's, counted from the
	// attempt's end; until then a pass (such as the one the failure's own
	// status write brings) tries nothing. Without the wait a Redis error
	// lasting a second, or a rolling restart leaving no ready pod for a
	// moment, would use up backoffLimit within milliseconds. The time is in
	// status, so an operator restart keeps it.
	shared := sharedResult(&inv.Status)
	if shared != nil && shared.CompletionTime == nil && !now.Before(sharedDueAt(shared, now)) {
		r.purgeShared(runCtx, inv, policy, book, live, shared, params)
		shared.NextAttemptTime = nil
		if shared.CompletionTime == nil {
			shared.NextAttemptTime = retryAt(time.Now(), shared.Attempts)
		}
	}
	var failures []podFailure
	if shared == nil || shared.CompletionTime != nil {
		failures = r.purgePods(runCtx, inv, policy, book, live, params)
	}
	if ctx.Err() != nil {
		// The operator is stopping: what this pass did is not recorded,
		// and the next operator does it again (agents apply a uid once).
		return ctrl.Result{}, nil
	}

	end := time.Now()
	book.render(&inv.Status)
	v := decide(book.counts(), book.targets, shared, params.backoffLimit)
	if v.done && shared != nil {
		shared.NextAttemptTime = nil // no attempt follows a finished run
	}
	switch {
	case v.done && v.failed:
		book.abandon(end, "not attempted: the shared Redis tier failed")
		book.render(&inv.Status)
		markFailed(inv, end, v.reason, v.msg)
	case v.done:
		markComplete(inv, end, v.msg)
	default:
		markRunning(inv, v.reason, v.msg)
	}
	wrote, err := r.commit(ctx, inv, before)
	if err != nil || !wrote {
		if v.done {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: r.wake(end, deadline, book, shared)}, err
	}
	for _, f := range failures {
		r.event(inv, f.pod, corev1.EventTypeWarning, v1alpha1.ReasonPodFailed, "Purge", fmt.Sprintf("pod %s: %s", f.name, f.why))
	}
	if v.done {
		return ctrl.Result{}, nil
	}
	// The write's own watch event brings the next pass if work is due now.
	return ctrl.Result{RequeueAfter: r.wake(end, deadline, book, shared)}, nil
}

// wake is how long the run can sleep before its next pass.
func (r *CacheInvalidationReconciler) wake(now, deadline time.Time, book *podBook, shared *v1alpha1.SharedLayerResult) time.Duration {
	if shared != nil && shared.CompletionTime == nil {
		// No pod is purged before the shared tier is done, so the pods'
		// retry times (unset yet: "due now") do not count.
		at := sharedDueAt(shared, now)
		if deadline.Before(at) {
			at = deadline
		}
		return max(soon, at.Sub(now))
	}
	return nextWake(now, deadline, book.pods)
}

// sharedDueAt is when the run's unfinished shared tier is next due: its
// nextAttemptTime, or now before the first attempt.
func sharedDueAt(shared *v1alpha1.SharedLayerResult, now time.Time) time.Time {
	if shared.NextAttemptTime == nil {
		return now
	}
	return shared.NextAttemptTime.Time
}

// observePods marks Gone the pending pods that left (their local tiers
// went with them) and returns the others by name. A pod the cache cannot
// read now is left for the next pass.
func (r *CacheInvalidationReconciler) observePods(ctx context.Context, ns string, book *podBook, now time.Time) map[string]*corev1.Pod {
	live := map[string]*corev1.Pod{}
	for i := range book.pods {
		p := &book.pods[i]
		if p.State != v1alpha1.PodPending {
			continue
		}
		pod, err := r.getPod(ctx, ns, p.Name)
		if err != nil {
			log.FromContext(ctx).Error(err, "read target pod", "pod", p.Name)
			continue
		}
		if goneReason(pod, p.UID) != "" {
			markGone(p, now)
			continue
		}
		p.UID = string(pod.UID) // a large run's uid prefix becomes the uid
		live[p.Name] = pod
	}
	return live
}

// getPod returns the pod, or nil when it does not exist.
func (r *CacheInvalidationReconciler) getPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	var pod corev1.Pod
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &pod); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get pod %s: %w", name, err)
	}
	return &pod, nil
}

func markGone(p *v1alpha1.PodInvalidationResult, now time.Time) {
	t := metav1.NewTime(now)
	p.State, p.NextAttemptTime, p.CompletionTime = v1alpha1.PodGone, nil, &t
}

// sharedUID is the uid of the shared-tier request. It differs from the
// run's uid, which every pod's local request carries: the agent applies a
// uid once, so the pod that runs the shared part would otherwise skip its
// own local purge.
func sharedUID(inv *v1alpha1.CacheInvalidation) string { return string(inv.UID) + "-shared" }

// purgeShared makes one attempt at the shared tier: through the first
// ready target pod whose agent runs it, falling back to the next ones.
func (r *CacheInvalidationReconciler) purgeShared(ctx context.Context, inv *v1alpha1.CacheInvalidation, policy *v1alpha1.CachePolicy,
	book *podBook, live map[string]*corev1.Pod, res *v1alpha1.SharedLayerResult, params runParams) {
	res.Attempts++
	candidates, err := r.sharedCandidates(ctx, policy, book, live)
	if err != nil {
		res.LastError = truncate(err.Error(), maxMessage)
		return
	}
	if len(candidates) == 0 {
		res.LastError = "no ready pod of the policy to run it through"
		return
	}
	req := agentapi.InvalidationRequest{UID: sharedUID(inv), Seq: inv.Status.Sequence, PolicyUID: string(policy.UID),
		Target: agentTarget(inv.Spec.Target), Layers: agentapi.LayersShared}
	var errs []string
	for _, pod := range candidates[:min(len(candidates), sharedCandidates)] {
		out, err := r.invalidateShared(ctx, pod, policy, req, params.perPodTimeout)
		if err == nil {
			done := metav1.Now()
			res.ExecutedBy, res.KeysRemoved, res.LastError, res.CompletionTime = pod.Name, int64(out.KeysRemoved), "", &done
			return
		}
		r.metrics.podError()
		errs = append(errs, pod.Name+": "+err.Error())
	}
	res.LastError = truncate(strings.Join(errs, "; "), maxMessage)
}

// sharedCandidates lists the ready pods that may run the shared part: the
// live targets first (in name order), then the policy's other pods.
func (r *CacheInvalidationReconciler) sharedCandidates(ctx context.Context, policy *v1alpha1.CachePolicy, book *podBook, live map[string]*corev1.Pod) ([]*corev1.Pod, error) {
	var out []*corev1.Pod
	for _, p := range book.pods {
		if pod, ok := live[p.Name]; ok && podReady(pod) {
			out = append(out, pod)
		}
	}
	all, err := selectedPods(ctx, r, policy, nil)
	if err != nil {
		return nil, err
	}
	for i := range all {
		pod := &all[i]
		if podReady(pod) && !slices.ContainsFunc(out, func(o *corev1.Pod) bool { return o.Name == pod.Name }) {
			out = append(out, pod)
		}
	}
	return out, nil
}

// invalidateShared sends the shared request to pod's agent, after
// checking that the agent runs the shared tier: an agent still on an older
// policy without Redis would answer success having done nothing.
func (r *CacheInvalidationReconciler) invalidateShared(ctx context.Context, pod *corev1.Pod, policy *v1alpha1.CachePolicy,
	req agentapi.InvalidationRequest, timeout time.Duration) (agentapi.InvalidationResult, error) {
	admin, err := r.Options.Agents.For(pod, policy.Spec.AdminPort)
	if err != nil {
		return agentapi.InvalidationResult{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := admin.Status(cctx)
	if err != nil {
		return agentapi.InvalidationResult{}, timeoutError(err, timeout)
	}
	if !slices.ContainsFunc(st.Layers, func(l agentapi.LayerStatus) bool { return l.Shared }) {
		return agentapi.InvalidationResult{}, errors.New("its agent runs no shared tier (has it applied the policy yet?)")
	}
	out, err := invalidate(cctx, admin, req)
	return out, timeoutError(err, timeout)
}

// podAttempt is one call to one pod's agent.
type podAttempt struct {
	idx  int // into podBook.pods
	pod  *corev1.Pod
	done bool
	res  agentapi.InvalidationResult
	err  error
}

// podFailure is a pod that failed for good in this pass.
type podFailure struct {
	name, why string
	pod       *corev1.Pod
}

// purgePods sends the local request to every pending pod that is due, at
// most parallelism at once, and records each answer in the book.
func (r *CacheInvalidationReconciler) purgePods(ctx context.Context, inv *v1alpha1.CacheInvalidation, policy *v1alpha1.CachePolicy,
	book *podBook, live map[string]*corev1.Pod, params runParams) []podFailure {
	now := time.Now()
	var due []*podAttempt
	for i := range book.pods {
		p := &book.pods[i]
		pod, ok := live[p.Name]
		if ok && p.State == v1alpha1.PodPending && (p.NextAttemptTime == nil || !p.NextAttemptTime.After(now)) {
			due = append(due, &podAttempt{idx: i, pod: pod})
		}
	}
	req := agentapi.InvalidationRequest{UID: string(inv.UID), Seq: inv.Status.Sequence, PolicyUID: string(policy.UID),
		Target: agentTarget(inv.Spec.Target), Layers: agentapi.LayersLocal}
	var g errgroup.Group
	g.SetLimit(params.parallelism)
	for _, a := range due {
		if time.Since(now) > passBudget || ctx.Err() != nil {
			break // the rest are due at the next pass
		}
		g.Go(func() error {
			a.res, a.err = r.invalidatePod(ctx, a.pod, policy, req, params.perPodTimeout)
			a.done = true
			return nil
		})
	}
	_ = g.Wait() // every call returns nil; errors stay per pod

	var failures []podFailure
	for _, a := range due {
		if a.done {
			if f := r.record(ctx, inv.Namespace, &book.pods[a.idx], a, params.backoffLimit); f != nil {
				failures = append(failures, *f)
			}
		}
	}
	return failures
}

// invalidatePod sends the local request to pod's agent.
func (r *CacheInvalidationReconciler) invalidatePod(ctx context.Context, pod *corev1.Pod, policy *v1alpha1.CachePolicy,
	req agentapi.InvalidationRequest, timeout time.Duration) (agentapi.InvalidationResult, error) {
	admin, err := r.Options.Agents.For(pod, policy.Spec.AdminPort)
	if err != nil {
		return agentapi.InvalidationResult{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := invalidate(cctx, admin, req)
	return out, timeoutError(err, timeout)
}

// record applies one answer to a pod's entry: success, Gone (the pod left
// while it was called), a retry after a delay, or a failure for good (an
// answer that refuses, or the backoff limit). It returns the failure.
func (r *CacheInvalidationReconciler) record(ctx context.Context, ns string, p *v1alpha1.PodInvalidationResult, a *podAttempt, backoffLimit int32) *podFailure {
	now := time.Now()
	t := metav1.NewTime(now)
	p.Attempts++
	if a.err == nil {
		p.State, p.KeysRemoved, p.LastError, p.NextAttemptTime, p.CompletionTime = v1alpha1.PodSucceeded, int64(a.res.KeysRemoved), "", nil, &t
		return nil
	}
	r.metrics.podError()
	if pod, err := r.getPod(ctx, ns, p.Name); err == nil && goneReason(pod, p.UID) != "" {
		markGone(p, now)
		return nil
	}
	p.LastError = truncate(a.err.Error(), maxMessage)
	var why string
	switch {
	case !agentconn.Retryable(a.err):
		why = "the agent refused: " + a.err.Error()
	case p.Attempts > backoffLimit:
		why = fmt.Sprintf("failed %d times: %s", p.Attempts, a.err)
	default:
		p.NextAttemptTime = retryAt(now, p.Attempts)
		return nil
	}
	p.State, p.NextAttemptTime, p.CompletionTime = v1alpha1.PodFailed, nil, &t
	return &podFailure{name: p.Name, why: why, pod: a.pod}
}

// timeoutError says which timeout cut a call short.
func timeoutError(err error, timeout time.Duration) error {
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s: %w", timeout, err)
	}
	return err
}
