package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/layercache/layercache/api/v1alpha1"
)

const (
	// soon is how long a run waits for its next pass when work is due now.
	soon = 100 * time.Millisecond
	// afterWrite is the longest a run just started waits for its first
	// pass: the start's own watch event normally brings it sooner, on a
	// cache that has seen the start.
	afterWrite = time.Second
	// invalidationWorkers bounds the invalidations reconciled at once, so
	// that one waiting on slow agents does not hold up the others.
	invalidationWorkers = 4
)

// CacheInvalidationReconciler runs each CacheInvalidation once, like a Job:
// it takes a sequence number from the policy, freezes the target pods,
// invalidates the shared Redis tier once through one agent, then purges
// the local tiers of every target pod with retries, and finishes Complete
// or Failed. Finished invalidations are only garbage-collected.
//
// Every step is recorded in status before the next depends on it, and
// agents apply an invalidation once per uid, so a restarted operator
// resumes a run where it was: it never fails it for the restart, and never
// sends it again to a pod recorded as done.
type CacheInvalidationReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Options  Options

	// apiReader reads around the cache where a stale copy would waste a
	// sequence number; SetupWithManager sets it (the client otherwise).
	apiReader client.Reader
	// metrics records finished runs; SetupWithManager sets it.
	metrics *invalidationMetrics
}

var _ reconcile.Reconciler = &CacheInvalidationReconciler{}

// Alphabetical order, so that none is repeated or missed.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cacheinvalidations,verbs=get;list;watch;update;patch;delete
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cacheinvalidations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachepolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile advances one invalidation by one pass.
func (r *CacheInvalidationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var inv v1alpha1.CacheInvalidation
	if err := r.Get(ctx, req.NamespacedName, &inv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if paused(&inv) || !inv.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if isFinished(&inv.Status) {
		return r.collect(ctx, &inv)
	}
	policy, err := r.policyOf(ctx, &inv)
	if err != nil {
		return ctrl.Result{}, err
	}
	if policy == nil {
		return r.awaitPolicy(ctx, &inv)
	}
	if inv.Status.StartTime == nil {
		return r.start(ctx, &inv, policy)
	}
	// A pass sends requests before it writes status: read the run from the
	// API server, not the cache, so a pass triggered before the cache saw
	// the previous pass's write does not send those requests again.
	if err := r.reader().Get(ctx, req.NamespacedName, &inv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if isFinished(&inv.Status) {
		return ctrl.Result{}, nil
	}
	return r.run(ctx, &inv, policy)
}

// policyOf returns the invalidation's policy, or nil when it does not
// exist, or when it is not the policy the run started under (deleted and
// created again: its sequence numbers start over).
func (r *CacheInvalidationReconciler) policyOf(ctx context.Context, inv *v1alpha1.CacheInvalidation) (*v1alpha1.CachePolicy, error) {
	policy, err := r.getPolicy(ctx, inv.Namespace, inv.Spec.PolicyRef.Name)
	if err != nil || policy == nil {
		return nil, err
	}
	if inv.Status.StartTime != nil {
		if uid := policyOwnerUID(inv); uid != "" && uid != policy.UID {
			return nil, nil
		}
	}
	return policy, nil
}

func (r *CacheInvalidationReconciler) getPolicy(ctx context.Context, ns, name string) (*v1alpha1.CachePolicy, error) {
	var policy v1alpha1.CachePolicy
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &policy); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("get CachePolicy %s: %w", name, err)
	}
	return &policy, nil
}

// policyOwnerUID is the uid of the CachePolicy that owns inv, if any.
func policyOwnerUID(inv *v1alpha1.CacheInvalidation) types.UID {
	for _, ref := range inv.OwnerReferences {
		if ref.Kind == "CachePolicy" && ref.APIVersion == v1alpha1.GroupVersion.String() {
			return ref.UID
		}
	}
	return ""
}

// awaitPolicy waits for a policy that does not exist (yet): it may be
// created after the invalidation. The run fails at its deadline, counted
// from creation (or from the start, for a run whose policy went away).
func (r *CacheInvalidationReconciler) awaitPolicy(ctx context.Context, inv *v1alpha1.CacheInvalidation) (ctrl.Result, error) {
	before := inv.Status.DeepCopy()
	now := time.Now()
	since := inv.CreationTimestamp.Time
	if inv.Status.StartTime != nil {
		since = inv.Status.StartTime.Time
	}
	limit := paramsOf(&inv.Spec).activeDeadline
	deadline := since.Add(limit)
	name := inv.Spec.PolicyRef.Name
	if now.Before(deadline) {
		markRunning(inv, v1alpha1.ReasonPolicyNotFound, fmt.Sprintf("waiting for CachePolicy %q to exist (until %s)", name, deadline.UTC().Format(time.RFC3339)))
		_, err := r.commit(ctx, inv, before)
		return ctrl.Result{RequeueAfter: max(soon, deadline.Sub(now))}, err
	}
	if inv.Status.StartTime != nil {
		if book, err := readBook(inv); err == nil {
			book.abandon(now, "the CachePolicy went away")
			book.render(&inv.Status)
		}
	}
	markFailed(inv, now, v1alpha1.ReasonPolicyNotFound, fmt.Sprintf("CachePolicy %q did not exist within activeDeadlineSeconds (%s)", name, limit))
	_, err := r.commit(ctx, inv, before)
	return ctrl.Result{}, err
}

// start begins a run: it claims the invalidation for its policy (label,
// owner reference and, for a large run, the frozen target set), takes the
// next sequence number from the policy, then records the sequence, the
// start time and the target pods.
//
// The policy is written first. If the operator dies between the two
// writes the number is skipped, never reused: a gap only makes agents that
// lag behind it flush their local tiers instead of replaying.
func (r *CacheInvalidationReconciler) start(ctx context.Context, cached *v1alpha1.CacheInvalidation, policy *v1alpha1.CachePolicy) (ctrl.Result, error) {
	// The cache may not have seen our last write yet: taking a sequence
	// for a copy that is in fact started would waste it.
	inv := &v1alpha1.CacheInvalidation{}
	if err := r.reader().Get(ctx, client.ObjectKeyFromObject(cached), inv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if inv.Status.StartTime != nil || isFinished(&inv.Status) {
		return ctrl.Result{RequeueAfter: soon}, nil
	}
	now := time.Now()
	plan := planLayers(&inv.Spec, policy)
	var targets []corev1.Pod
	if plan.local {
		pods, err := selectedPods(ctx, r, policy, inv.Spec.PodSelector)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("freeze target pods: %w", err)
		}
		targets = pods
	}
	if plan.shared && len(targets) == 0 {
		all, err := selectedPods(ctx, r, policy, nil)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("find a pod for the shared tier: %w", err)
		}
		if len(all) == 0 {
			return r.failAtStart(ctx, inv, now, v1alpha1.ReasonNoTargets,
				fmt.Sprintf("no running pod of CachePolicy %q to invalidate the shared Redis tier through", policy.Name))
		}
	}
	book := newBook(targets)
	if err := r.claim(ctx, inv, policy, book); err != nil {
		var tooMany errTooManyTargets
		if errors.As(err, &tooMany) {
			return r.failAtStart(ctx, inv, now, v1alpha1.ReasonTooManyTargets, tooMany.Error()+"; narrow spec.podSelector")
		}
		return ctrl.Result{}, err
	}
	seq, err := r.reserveSequence(ctx, policy)
	if err != nil {
		return ctrl.Result{}, err
	}

	st := &inv.Status
	started := metav1.NewTime(now)
	st.Sequence, st.StartTime = seq, &started
	if plan.shared {
		st.SharedLayers = []v1alpha1.SharedLayerResult{{Layer: v1alpha1.LayerRedis}}
	}
	book.render(st)
	v := decide(book.counts(), book.targets, sharedResult(st), paramsOf(&inv.Spec).backoffLimit)
	if v.done {
		markComplete(inv, now, v.msg)
	} else {
		markRunning(inv, v1alpha1.ReasonRunning, fmt.Sprintf("invalidation #%d started on %d pods", seq, book.targets))
	}
	if err := r.Status().Update(ctx, inv); err != nil {
		return ctrl.Result{}, fmt.Errorf("record the start of invalidation #%d (the number is skipped): %w", seq, err)
	}
	r.event(inv, nil, corev1.EventTypeNormal, v1alpha1.ReasonRunning, "Start",
		fmt.Sprintf("invalidation #%d of CachePolicy %s started on %d pods", seq, policy.Name, book.targets))
	if v.done {
		r.announceFinish(inv)
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: afterWrite}, nil
}

// failAtStart fails a run that cannot begin. It takes no sequence number:
// it did nothing an agent would need to replay.
func (r *CacheInvalidationReconciler) failAtStart(ctx context.Context, inv *v1alpha1.CacheInvalidation, now time.Time, reason, msg string) (ctrl.Result, error) {
	before := inv.Status.DeepCopy()
	started := metav1.NewTime(now)
	inv.Status.StartTime = &started
	markFailed(inv, now, reason, msg)
	_, err := r.commit(ctx, inv, before)
	return ctrl.Result{}, err
}

// errTooManyTargets says the frozen target set does not fit its
// annotation.
type errTooManyTargets struct{ err error }

func (e errTooManyTargets) Error() string { return e.err.Error() }

// claim marks inv as the policy's (label and owner reference, so that the
// policy's deletion collects it) and, for a large run, records the frozen
// target set. It writes metadata only when something changed.
func (r *CacheInvalidationReconciler) claim(ctx context.Context, inv *v1alpha1.CacheInvalidation, policy *v1alpha1.CachePolicy, book *podBook) error {
	orig := inv.DeepCopy()
	if inv.Labels == nil {
		inv.Labels = map[string]string{}
	}
	inv.Labels[v1alpha1.LabelPolicy] = policy.Name
	if err := controllerutil.SetOwnerReference(policy, inv, r.Scheme()); err != nil {
		return fmt.Errorf("own by CachePolicy %s: %w", policy.Name, err)
	}
	if book.frozen != nil {
		enc, err := encodeTargets(book.frozen)
		if err != nil {
			return errTooManyTargets{err}
		}
		if inv.Annotations == nil {
			inv.Annotations = map[string]string{}
		}
		inv.Annotations[v1alpha1.AnnotationTargets] = enc
	} else {
		// Left by an earlier start that died before recording itself.
		delete(inv.Annotations, v1alpha1.AnnotationTargets)
	}
	if equality.Semantic.DeepEqual(orig.ObjectMeta, inv.ObjectMeta) {
		return nil
	}
	if err := r.Update(ctx, inv); err != nil {
		return fmt.Errorf("label and own the invalidation: %w", err)
	}
	return nil
}

// reserveSequence takes the policy's next invalidation sequence number.
// The policy's ledger is written only here, with optimistic concurrency:
// on a conflict the policy is read again from the API server and the
// write retried, so two invalidations never get the same number.
func (r *CacheInvalidationReconciler) reserveSequence(ctx context.Context, policy *v1alpha1.CachePolicy) (int64, error) {
	p := policy.DeepCopy()
	var seq int64
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		seq = p.Status.Invalidation.LastSequence + 1
		p.Status.Invalidation.LastSequence = seq
		err := r.Status().Update(ctx, p)
		if apierrors.IsConflict(err) {
			if gerr := r.reader().Get(ctx, client.ObjectKeyFromObject(p), p); gerr != nil {
				return fmt.Errorf("read CachePolicy %s again: %w", p.Name, gerr)
			}
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("take a sequence number from CachePolicy %s: %w", policy.Name, err)
	}
	return seq, nil
}

// commit writes status when it changed since before, and reports whether
// it wrote. A conflict means a newer copy exists: the pass is dropped and
// runs again on it. A run that just finished is announced.
func (r *CacheInvalidationReconciler) commit(ctx context.Context, inv *v1alpha1.CacheInvalidation, before *v1alpha1.CacheInvalidationStatus) (bool, error) {
	if equality.Semantic.DeepEqual(before, &inv.Status) {
		return false, nil
	}
	if err := r.Status().Update(ctx, inv); err != nil {
		if apierrors.IsConflict(err) {
			log.FromContext(ctx).V(1).Info("status conflict; the pass runs again on the newer copy")
			return false, nil
		}
		return false, fmt.Errorf("update status: %w", err)
	}
	if isFinished(&inv.Status) && !isFinished(before) {
		r.announceFinish(inv)
	}
	return true, nil
}

// announceFinish emits the final event and records the run's metrics.
func (r *CacheInvalidationReconciler) announceFinish(inv *v1alpha1.CacheInvalidation) {
	st := &inv.Status
	typ, cond := corev1.EventTypeNormal, findCondition(st.Conditions, v1alpha1.ConditionComplete)
	if cond == nil || cond.Status != metav1.ConditionTrue {
		typ, cond = corev1.EventTypeWarning, findCondition(st.Conditions, v1alpha1.ConditionFailed)
	}
	if cond == nil {
		return
	}
	r.metrics.finished(cond.Type, cond.Reason, runDuration(st))
	r.event(inv, nil, typ, cond.Reason, "Finish", cond.Message)
}

func (r *CacheInvalidationReconciler) event(inv *v1alpha1.CacheInvalidation, related runtime.Object, typ, reason, action, note string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(inv, related, typ, reason, action, "%s", truncate(note, maxMessage))
	}
}

func (r *CacheInvalidationReconciler) reader() client.Reader {
	if r.apiReader != nil {
		return r.apiReader
	}
	return r.Client
}

// SetupWithManager registers the metrics and watches invalidations, the
// policies they name (created late, or with new defaults) and the pods
// that leave mid-run.
func (r *CacheInvalidationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.apiReader = mgr.GetAPIReader()
	m, err := newInvalidationMetrics(crmetrics.Registry)
	if err != nil {
		return err
	}
	r.metrics = m
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.CacheInvalidation{}).
		Watches(&v1alpha1.CachePolicy{}, handler.EnqueueRequestsFromMapFunc(r.invalidationsOfPolicy),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.invalidationsOfPod),
			builder.WithPredicates(podLeaves())).
		WithOptions(crcontroller.Options{MaxConcurrentReconciles: invalidationWorkers}).
		Named("cacheinvalidation").
		Complete(r)
}

// invalidationsOfPolicy maps a policy to the invalidations that name it:
// waiting ones start when it appears, finished ones see new defaults.
func (r *CacheInvalidationReconciler) invalidationsOfPolicy(ctx context.Context, obj client.Object) []reconcile.Request {
	var list v1alpha1.CacheInvalidationList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "map policy to invalidations", "policy", obj.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if inv := &list.Items[i]; inv.Spec.PolicyRef.Name == obj.GetName() {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(inv)})
		}
	}
	return reqs
}

// invalidationsOfPod maps a pod that leaves to the runs waiting on it, so
// that it is counted Gone at once rather than at its next retry.
func (r *CacheInvalidationReconciler) invalidationsOfPod(ctx context.Context, obj client.Object) []reconcile.Request {
	var list v1alpha1.CacheInvalidationList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "map pod to invalidations", "pod", obj.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		inv := &list.Items[i]
		if inv.Status.StartTime == nil || isFinished(&inv.Status) {
			continue
		}
		for _, p := range inv.Status.Pods {
			if p.Name == obj.GetName() && p.State == v1alpha1.PodPending {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(inv)})
				break
			}
		}
	}
	return reqs
}

// podLeaves passes pod deletions and pods that stop being active.
func podLeaves() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, ok1 := e.ObjectOld.(*corev1.Pod)
			after, ok2 := e.ObjectNew.(*corev1.Pod)
			return ok1 && ok2 && isActive(before) && !isActive(after)
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
