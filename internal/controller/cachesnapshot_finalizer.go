package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

const (
	// snapshotFileGrace bounds how long a deleted CacheSnapshot is held,
	// counted from its deletionTimestamp, while its agent fails to remove
	// the file (network errors, 5xx). The last attempt is made at the
	// deadline; after it the finalizer is removed and a Warning event
	// names the file left behind.
	snapshotFileGrace = 10 * time.Minute
	// snapshotFileMaxBackoff caps the delay between two attempts.
	snapshotFileMaxBackoff = time.Minute
	// snapshotFileTimeout bounds one delete call. The agent removes the
	// file after the snapshot or invalidation it may be running, so the
	// call can wait as long as a snapshot.
	snapshotFileTimeout = snapshotTimeout
)

// ensureFinalizer puts FinalizerSnapshotFile on snap unless it failed with
// no file possible (mayHaveFile): before its agent is asked to write the
// file, so that no file can be written for an object that could vanish
// without a trace. A snapshot finished before the finalizer existed gets it
// too. The patch is
// optimistic: a stale snap (one being deleted meanwhile) fails it, and the
// next pass sees the deletion.
func (r *CacheSnapshotReconciler) ensureFinalizer(ctx context.Context, snap *v1alpha1.CacheSnapshot) error {
	if meta.IsStatusConditionTrue(snap.Status.Conditions, v1alpha1.ConditionFailed) && !mayHaveFile(snap) {
		return nil
	}
	patch := client.MergeFromWithOptions(snap.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if !controllerutil.AddFinalizer(snap, v1alpha1.FinalizerSnapshotFile) {
		return nil
	}
	if err := r.Patch(ctx, snap, patch); err != nil {
		return fmt.Errorf("add finalizer: %w", err)
	}
	return nil
}

// finalize removes the file of a deleted snapshot through the agent that
// wrote it, then releases the object. It never holds the object for good:
//
//   - no file to remove (the agent was never asked, or it refused):
//     released at once, quietly;
//   - reconciliation paused: released with a Warning naming the file;
//   - the source pod is gone or no longer running: released with a Normal
//     event (its volume went with it, unless shared);
//   - the agent removed the file or had none: released, Normal event;
//   - the agent refused (4xx): released with a Warning naming the file;
//   - the agent failed (network, 5xx): kept, a Warning event, and asked
//     again with backoff until snapshotFileGrace after deletionTimestamp,
//     then released with a Warning naming the file.
func (r *CacheSnapshotReconciler) finalize(ctx context.Context, snap *v1alpha1.CacheSnapshot) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(snap, v1alpha1.FinalizerSnapshotFile) {
		return ctrl.Result{}, nil
	}
	if !mayHaveFile(snap) {
		return ctrl.Result{}, r.release(ctx, snap)
	}
	file, podName := snapshotFileOf(snap), snap.Status.SourcePod
	if paused(snap) {
		return r.releaseWith(ctx, snap, nil, corev1.EventTypeWarning, v1alpha1.ReasonSnapshotFileLeft,
			"%s is left in pod %s: reconciliation is paused (%s: disabled), so its agent was not asked to remove it",
			file, podName, v1alpha1.AnnotationReconcile)
	}
	pod, err := r.runningSourcePod(ctx, snap)
	if err != nil {
		return ctrl.Result{}, err
	}
	if pod == nil {
		return r.releaseWith(ctx, snap, nil, corev1.EventTypeNormal, v1alpha1.ReasonSourcePodGone,
			"%s could not be removed: pod %s is gone or no longer running (its volume went with it, unless shared)", file, podName)
	}
	res, err := r.deleteFile(ctx, snap, pod)
	switch {
	case err == nil && res.Removed:
		return r.releaseWith(ctx, snap, pod, corev1.EventTypeNormal, v1alpha1.ReasonSnapshotFileDeleted,
			"removed %s from pod %s", res.Path, podName)
	case err == nil && snap.Status.Path != "" && res.Path != snap.Status.Path:
		// The agent looks under its policy's snapshots directory as it is
		// now: the file was written under another one.
		return r.releaseWith(ctx, snap, pod, corev1.EventTypeWarning, v1alpha1.ReasonSnapshotFileLeft,
			"%s is left in pod %s: its agent now keeps snapshots elsewhere (it looked for %s)", snap.Status.Path, podName, res.Path)
	case err == nil:
		return r.releaseWith(ctx, snap, pod, corev1.EventTypeNormal, v1alpha1.ReasonSnapshotFileDeleted,
			"pod %s had no %s to remove", podName, res.Path)
	case !agentconn.Retryable(err):
		return r.releaseWith(ctx, snap, pod, corev1.EventTypeWarning, v1alpha1.ReasonSnapshotFileLeft,
			"%s is left in pod %s: its agent refused to remove it: %s", file, podName, truncate(agentMessage(err), maxMessage))
	}
	elapsed := r.now().Sub(snap.DeletionTimestamp.Time)
	if elapsed >= snapshotFileGrace {
		return r.releaseWith(ctx, snap, pod, corev1.EventTypeWarning, v1alpha1.ReasonSnapshotFileLeft,
			"%s is left in pod %s: gave up removing it %s after deletion: %s", file, podName, snapshotFileGrace, truncate(err.Error(), maxMessage))
	}
	delay := snapshotFileDelay(elapsed)
	log.FromContext(ctx).Info("removing the snapshot file failed; retrying", "pod", podName, "file", file, "retryIn", delay, "error", err.Error())
	r.event(snap, pod, corev1.EventTypeWarning, v1alpha1.ReasonSnapshotFileDeleteFailed,
		"could not remove %s from pod %s, retrying in %s: %s", file, podName, delay, truncate(err.Error(), maxMessage))
	return ctrl.Result{RequeueAfter: delay}, nil
}

// agentRefused starts the Failed message of a snapshot whose agent refused
// to write it (a 4xx): that agent wrote no file.
const agentRefused = "the agent refused: "

// mayHaveFile reports whether an agent may hold a file of snap: it
// recorded one (Complete), or an agent was asked (an attempt was made) and
// did not refuse. A snapshot that failed after asking may have a file whose
// answer was lost: the agent restarted after writing it (onto a volume that
// outlives the container, as snapshots for restoring need), or every answer
// timed out. A snapshot never asked for, or refused, has none.
func mayHaveFile(snap *v1alpha1.CacheSnapshot) bool {
	st := &snap.Status
	if st.Path != "" {
		return true
	}
	if st.SourcePod == "" || st.Attempts == 0 {
		return false
	}
	failed := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionFailed)
	return failed == nil || failed.Status != metav1.ConditionTrue || !strings.HasPrefix(failed.Message, agentRefused)
}

// snapshotFileOf names snap's file in events: its recorded path, or its
// uid while none is recorded.
func snapshotFileOf(snap *v1alpha1.CacheSnapshot) string {
	if snap.Status.Path != "" {
		return snap.Status.Path
	}
	return fmt.Sprintf("the file of snapshot uid %s (if written)", snap.UID)
}

// snapshotFileDelay is the wait before the next attempt at removing a
// file, elapsed after the deletion: as long as has elapsed already, within
// [snapshotBackoff, snapshotFileMaxBackoff], so the attempts back off
// exponentially with no counter to store, and never past the deadline.
func snapshotFileDelay(elapsed time.Duration) time.Duration {
	d := min(max(elapsed, snapshotBackoff), snapshotFileMaxBackoff)
	return min(d, snapshotFileGrace-elapsed)
}

// runningSourcePod returns the pod that wrote snap while it exists and is
// running (isActive), else nil (also when no pod is recorded).
func (r *CacheSnapshotReconciler) runningSourcePod(ctx context.Context, snap *v1alpha1.CacheSnapshot) (*corev1.Pod, error) {
	if snap.Status.SourcePod == "" {
		return nil, nil
	}
	var pod corev1.Pod
	err := r.Get(ctx, types.NamespacedName{Namespace: snap.Namespace, Name: snap.Status.SourcePod}, &pod)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get source pod %s: %w", snap.Status.SourcePod, err)
	case !isActive(&pod):
		return nil, nil
	}
	return &pod, nil
}

// deleteFile asks pod's agent to remove snap's file, on the port recorded
// when the snapshot was taken: the policy may be gone (deleting it deletes
// its snapshots). A snapshot that recorded none (the default port, or taken
// before the port was recorded) uses the policy's, when it still exists.
// The pod's annotation overrides either (agentconn.PodAddress).
func (r *CacheSnapshotReconciler) deleteFile(ctx context.Context, snap *v1alpha1.CacheSnapshot, pod *corev1.Pod) (agentapi.SnapshotDeleteResult, error) {
	port := snap.Status.SourceAdminPort
	if port == 0 {
		var policy v1alpha1.CachePolicy
		err := r.Get(ctx, types.NamespacedName{Namespace: snap.Namespace, Name: snap.Spec.PolicyRef.Name}, &policy)
		if err != nil && !apierrors.IsNotFound(err) {
			return agentapi.SnapshotDeleteResult{}, fmt.Errorf("get policy %s: %w", snap.Spec.PolicyRef.Name, err)
		}
		port = policy.Spec.AdminPort
	}
	admin, err := r.Options.Agents.For(pod, port)
	if err != nil {
		return agentapi.SnapshotDeleteResult{}, fmt.Errorf("dial agent of pod %s: %w", pod.Name, err)
	}
	cctx, cancel := context.WithTimeout(ctx, snapshotFileTimeout)
	defer cancel()
	return admin.DeleteSnapshot(cctx, string(snap.UID))
}

// releaseWith removes the finalizer, then emits the event saying what
// became of the file; related is the pod it concerns, or nil.
func (r *CacheSnapshotReconciler) releaseWith(ctx context.Context, snap *v1alpha1.CacheSnapshot, related runtime.Object,
	kind, reason, note string, args ...any) (ctrl.Result, error) {
	if err := r.release(ctx, snap); err != nil {
		return ctrl.Result{}, err
	}
	r.event(snap, related, kind, reason, note, args...)
	return ctrl.Result{}, nil
}

// release removes FinalizerSnapshotFile, which lets the API server delete
// snap. Optimistic, like ensureFinalizer: a conflict retries the pass.
func (r *CacheSnapshotReconciler) release(ctx context.Context, snap *v1alpha1.CacheSnapshot) error {
	patch := client.MergeFromWithOptions(snap.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if !controllerutil.RemoveFinalizer(snap, v1alpha1.FinalizerSnapshotFile) {
		return nil
	}
	if err := r.Patch(ctx, snap, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer: %w", err)
	}
	return nil
}
