package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

const (
	// snapshotAttempts is how many times the agent is asked before a
	// network error or a 5xx fails the snapshot.
	snapshotAttempts = 3
	// snapshotTimeout bounds one snapshot call: the agent writes its whole
	// cache to disk.
	snapshotTimeout = 60 * time.Second
	// snapshotWaitLimit is how long a snapshot waits for its policy or for
	// a ready pod before it fails.
	snapshotWaitLimit = 5 * time.Minute
	// snapshotWaitPoll is how often a waiting snapshot looks again.
	snapshotWaitPoll = 5 * time.Second
	// snapshotBackoff is the delay before the second attempt; it doubles
	// with each further one.
	snapshotBackoff = 2 * time.Second
)

// CacheSnapshotReconciler runs each CacheSnapshot once: it chooses a
// source pod, asks its agent to write the snapshot and records the outcome
// as Complete or Failed, like a Job.
//
// It is restart-safe: the source pod and its agent's session are recorded
// before the agent is asked, so a resumed snapshot asks the same process
// again (the agent answers a repeated uid with the file it already wrote)
// or, if that process is gone and its memory with it, fails.
//
// It owns the snapshot's file too: FinalizerSnapshotFile holds a deleted
// CacheSnapshot (deleted by a user, by retention or with its policy) until
// the agent has removed the file, within bounds (see finalize).
type CacheSnapshotReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Options  Options
	// Now is the clock.
	//
	// default: time.Now
	Now func() time.Time
}

// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachesnapshots,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachesnapshots/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachesnapshots/finalizers,verbs=update
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachepolicies/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile takes one snapshot, once, and removes its file when it is
// deleted.
func (r *CacheSnapshotReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var snap v1alpha1.CacheSnapshot
	if err := r.Get(ctx, req.NamespacedName, &snap); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// Deletion comes first, paused or not: a paused snapshot must not
	// block its own deletion (finalize only releases it then).
	if snap.DeletionTimestamp != nil {
		return r.finalize(ctx, &snap)
	}
	if paused(&snap) {
		return ctrl.Result{}, nil
	}
	if err := r.ensureFinalizer(ctx, &snap); err != nil {
		return ctrl.Result{}, err
	}
	if snapshotFinished(&snap) {
		return ctrl.Result{}, nil
	}
	run := &snapshotRun{r: r, snap: &snap, before: snap.Status.DeepCopy()}

	var policy v1alpha1.CachePolicy
	key := types.NamespacedName{Namespace: snap.Namespace, Name: snap.Spec.PolicyRef.Name}
	if err := r.Get(ctx, key, &policy); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get policy %s: %w", key.Name, err)
		}
		return run.wait(ctx, v1alpha1.ReasonPolicyNotFound, fmt.Sprintf("CachePolicy %q does not exist", key.Name))
	}
	if err := r.adopt(ctx, &snap, &policy); err != nil {
		return ctrl.Result{}, err
	}
	if snap.Status.SourcePod == "" {
		return run.start(ctx, &policy)
	}
	return run.resume(ctx, &policy)
}

// adopt labels snap with its policy and makes the policy its owner, so
// that `kubectl get csnap -l` finds a policy's snapshots and deleting the
// policy deletes them.
func (r *CacheSnapshotReconciler) adopt(ctx context.Context, snap *v1alpha1.CacheSnapshot, policy *v1alpha1.CachePolicy) error {
	patch := client.MergeFrom(snap.DeepCopy())
	changed := false
	// A policy name longer than a label value allows cannot be a label;
	// the owner reference still ties the snapshot to it.
	if snap.Labels[v1alpha1.LabelPolicy] != policy.Name && len(validation.IsValidLabelValue(policy.Name)) == 0 {
		if snap.Labels == nil {
			snap.Labels = map[string]string{}
		}
		snap.Labels[v1alpha1.LabelPolicy] = policy.Name
		changed = true
	}
	if !ownedBy(snap, policy) {
		if err := controllerutil.SetOwnerReference(policy, snap, r.Scheme()); err != nil {
			return fmt.Errorf("owner reference: %w", err)
		}
		changed = true
	}
	if !changed {
		return nil
	}
	if err := r.Patch(ctx, snap, patch); err != nil {
		return fmt.Errorf("label and own snapshot: %w", err)
	}
	return nil
}

// ownedBy reports whether obj already has an owner reference to owner; a
// scheduled snapshot has one, as controller, from its creation.
func ownedBy(obj, owner metav1.Object) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == owner.GetUID() {
			return true
		}
	}
	return false
}

// snapshotFinished reports whether snap is Complete or Failed.
func snapshotFinished(snap *v1alpha1.CacheSnapshot) bool {
	return meta.IsStatusConditionTrue(snap.Status.Conditions, v1alpha1.ConditionComplete) ||
		meta.IsStatusConditionTrue(snap.Status.Conditions, v1alpha1.ConditionFailed)
}

// snapshotScope maps the API scope to the agent's.
func snapshotScope(s v1alpha1.SnapshotScope) agentapi.LayerScope {
	if s == v1alpha1.ScopeAll {
		return agentapi.LayersAll
	}
	return agentapi.LayersLocal
}

func (r *CacheSnapshotReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager watches CacheSnapshots. Only their creation, their
// deletion (the API server raises the generation when it sets
// deletionTimestamp) and the initial list after a restart start a pass:
// the spec is immutable, and ignoring status and metadata updates keeps the
// operator's own writes from cutting the backoff between attempts short.
func (r *CacheSnapshotReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.CacheSnapshot{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("cachesnapshot").
		Complete(r)
}

// snapshotRun is one reconcile pass over one snapshot.
type snapshotRun struct {
	r      *CacheSnapshotReconciler
	snap   *v1alpha1.CacheSnapshot
	before *v1alpha1.CacheSnapshotStatus
}

// start chooses the source, records it and asks its agent.
func (run *snapshotRun) start(ctx context.Context, policy *v1alpha1.CachePolicy) (ctrl.Result, error) {
	src, err := run.r.chooseSource(ctx, run.snap, policy)
	var ns *noSource
	switch {
	case errors.As(err, &ns) && ns.terminal:
		return ctrl.Result{}, run.fail(ctx, ns.reason, ns.message)
	case errors.As(err, &ns):
		return run.wait(ctx, ns.reason, ns.message)
	case err != nil:
		return ctrl.Result{}, err
	}
	st := &run.snap.Status
	st.SourcePod, st.SourceSessionID, st.SourceAdminPort = src.pod.Name, src.status.SessionID, policy.Spec.AdminPort
	now := metav1.NewTime(run.r.now())
	st.StartTime = &now
	run.r.event(run.snap, src.pod, corev1.EventTypeNormal, v1alpha1.ReasonRunning,
		"snapshot of pod %s started (agent session %s)", src.pod.Name, src.status.SessionID)
	return run.attempt(ctx, src.admin)
}

// resume continues a snapshot whose source is recorded: after a retryable
// error or an operator restart. Only the same agent process can answer for
// it.
func (run *snapshotRun) resume(ctx context.Context, policy *v1alpha1.CachePolicy) (ctrl.Result, error) {
	st := &run.snap.Status
	var pod corev1.Pod
	if err := run.r.Get(ctx, types.NamespacedName{Namespace: run.snap.Namespace, Name: st.SourcePod}, &pod); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get source pod %s: %w", st.SourcePod, err)
		}
		return ctrl.Result{}, run.fail(ctx, v1alpha1.ReasonSnapshotFailed, fmt.Sprintf("source pod %q is gone", st.SourcePod))
	}
	if !isActive(&pod) {
		return ctrl.Result{}, run.fail(ctx, v1alpha1.ReasonSnapshotFailed, fmt.Sprintf("source pod %q is no longer running", st.SourcePod))
	}
	src := &snapshotSource{pod: &pod}
	if err := run.r.poll(ctx, src, policy); err != nil {
		st.Attempts++
		return run.retry(ctx, err)
	}
	if src.status.SessionID != st.SourceSessionID {
		return ctrl.Result{}, run.fail(ctx, v1alpha1.ReasonSnapshotFailed, fmt.Sprintf(
			"source agent restarted (session %s, now %s): the cache it was exporting is gone; create a new CacheSnapshot",
			st.SourceSessionID, src.status.SessionID))
	}
	return run.attempt(ctx, src.admin)
}

// attempt counts and records an attempt, then asks the agent. The record
// comes first so that an operator that dies during the call resumes with
// the source and session it chose.
func (run *snapshotRun) attempt(ctx context.Context, admin agentconn.Admin) (ctrl.Result, error) {
	st := &run.snap.Status
	st.Attempts++
	setCondition(&st.Conditions, run.snap.Generation, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonRunning,
		fmt.Sprintf("attempt %d: the agent of pod %s is writing the snapshot", st.Attempts, st.SourcePod))
	setCondition(&st.Conditions, run.snap.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRunning, "the snapshot is being written")
	if err := run.write(ctx); err != nil {
		return ctrl.Result{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	uid := string(run.snap.UID)
	res, err := admin.Snapshot(cctx, uid, agentapi.SnapshotRequest{UID: uid, Layers: snapshotScope(run.snap.Spec.Scope)})
	switch {
	case err == nil:
		return ctrl.Result{}, run.complete(ctx, res)
	case !agentconn.Retryable(err):
		return ctrl.Result{}, run.fail(ctx, v1alpha1.ReasonSnapshotFailed, agentRefused+agentMessage(err))
	default:
		return run.retry(ctx, err)
	}
}

// retry records a retryable failure and schedules the next attempt, or
// fails the snapshot once the attempts are used up.
func (run *snapshotRun) retry(ctx context.Context, cause error) (ctrl.Result, error) {
	st := &run.snap.Status
	if st.Attempts >= snapshotAttempts {
		return ctrl.Result{}, run.fail(ctx, v1alpha1.ReasonSnapshotFailed,
			fmt.Sprintf("gave up after %d attempts: %v", st.Attempts, cause))
	}
	delay := snapshotBackoff << max(st.Attempts-1, 0)
	setCondition(&st.Conditions, run.snap.Generation, v1alpha1.ConditionReconciling, metav1.ConditionTrue, v1alpha1.ReasonRunning,
		fmt.Sprintf("attempt %d failed, retrying in %s: %v", st.Attempts, delay, cause))
	log.FromContext(ctx).Info("snapshot attempt failed; retrying", "attempt", st.Attempts, "pod", st.SourcePod, "error", cause.Error())
	if err := run.write(ctx); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: delay}, nil
}

// wait records why the snapshot cannot start yet and looks again soon, or
// fails it once it has waited snapshotWaitLimit since its creation.
func (run *snapshotRun) wait(ctx context.Context, reason, msg string) (ctrl.Result, error) {
	waited := run.r.now().Sub(run.snap.CreationTimestamp.Time)
	if waited >= snapshotWaitLimit {
		return ctrl.Result{}, run.fail(ctx, reason, fmt.Sprintf("%s (waited %s)", msg, snapshotWaitLimit))
	}
	st := &run.snap.Status
	setCondition(&st.Conditions, run.snap.Generation, v1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
	setCondition(&st.Conditions, run.snap.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
	if err := run.write(ctx); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: min(snapshotWaitPoll, snapshotWaitLimit-waited)}, nil
}

// complete records the written snapshot.
func (run *snapshotRun) complete(ctx context.Context, res agentapi.SnapshotResult) error {
	st, gen := &run.snap.Status, run.snap.Generation
	st.Path, st.Entries, st.Bytes, st.Checksum = res.Path, int64(res.Entries), res.Bytes, res.Checksum
	st.InvalidationSequence = res.Watermark
	now := metav1.NewTime(run.r.now())
	st.CompletionTime = &now
	msg := fmt.Sprintf("%d entries (%d bytes) from pod %s written to %s", res.Entries, res.Bytes, st.SourcePod, res.Path)
	meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionReconciling)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionComplete, metav1.ConditionTrue, v1alpha1.ReasonCompleted, msg)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonCompleted, msg)
	if err := run.write(ctx); err != nil {
		// The next pass asks the same agent again, which answers with
		// the file it wrote.
		return err
	}
	run.r.event(run.snap, nil, corev1.EventTypeNormal, v1alpha1.ReasonCompleted, "%s", msg)
	return nil
}

// fail finishes the snapshot without success.
func (run *snapshotRun) fail(ctx context.Context, reason, msg string) error {
	st, gen := &run.snap.Status, run.snap.Generation
	now := metav1.NewTime(run.r.now())
	st.CompletionTime = &now
	meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionReconciling)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionFailed, metav1.ConditionTrue, reason, msg)
	setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
	if err := run.write(ctx); err != nil {
		return err
	}
	run.r.event(run.snap, nil, corev1.EventTypeWarning, reason, "%s", truncate(msg, maxMessage))
	return nil
}

// write updates status, stamped with the generation, if it changed since
// the last write. It uses the object's resourceVersion: a conflict means
// the pass works on stale data and must start again rather than ask the
// agent.
func (run *snapshotRun) write(ctx context.Context) error {
	run.snap.Status.ObservedGeneration = run.snap.Generation
	if equality.Semantic.DeepEqual(run.before, &run.snap.Status) {
		return nil
	}
	if err := run.r.Status().Update(ctx, run.snap); err != nil {
		return fmt.Errorf("update snapshot status: %w", err)
	}
	run.before = run.snap.Status.DeepCopy()
	return nil
}

// event emits an event about snap, if there is a recorder. related is nil
// or an object that exists (never a typed nil pointer).
func (r *CacheSnapshotReconciler) event(snap *v1alpha1.CacheSnapshot, related runtime.Object, kind, reason, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(snap, related, kind, reason, "Snapshot", note, args...)
	}
}
