package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/layercache/layercache/api/v1alpha1"
)

// CacheSnapshotScheduleReconciler creates the CacheSnapshots of the
// policies that have spec.snapshots.schedule, and applies their retention.
//
// At each tick it creates one snapshot, named after the tick
// (<policy>-<YYYYMMDDhhmmss>, UTC) so that a pass repeated after a crash
// adopts it instead of creating another. Ticks missed while the operator
// was down produce one snapshot, for the latest of them, and a tick that
// comes while the previous scheduled snapshot still runs waits for it: a
// policy has at most one running scheduled snapshot.
type CacheSnapshotScheduleReconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Now is the clock; tests move it instead of sleeping.
	//
	// default: time.Now
	Now func() time.Time
}

// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachepolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachepolicies/finalizers,verbs=update
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachesnapshots,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile creates the policy's due scheduled snapshot, if any, prunes
// old ones and comes back at the next tick.
func (r *CacheSnapshotScheduleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var policy v1alpha1.CachePolicy
	if err := r.Get(ctx, req.NamespacedName, &policy); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	sp := policy.Spec.Snapshots
	if paused(&policy) || sp == nil {
		return ctrl.Result{}, nil
	}
	scheduled, err := r.scheduledSnapshots(ctx, &policy)
	if err != nil {
		return ctrl.Result{}, err
	}
	// Retention applies even with the schedule suspended or removed: the
	// snapshots it made are still there.
	if err := r.pruneSnapshots(ctx, &policy, scheduled); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.recordCompletion(ctx, &policy, scheduled); err != nil {
		return ctrl.Result{}, err
	}
	if sp.Schedule == "" || sp.Suspend {
		return ctrl.Result{}, nil
	}
	if errs := validation.IsValidLabelValue(policy.Name); len(errs) > 0 {
		// Scheduled snapshots are found by a label holding the policy's
		// name; without it neither the one-at-a-time rule nor retention
		// could work.
		r.event(&policy, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidSchedule,
			"the policy name is too long to label its scheduled snapshots with (at most 63 characters): %s", strings.Join(errs, "; "))
		return ctrl.Result{}, nil
	}
	sched, err := cron.ParseStandard(sp.Schedule)
	if err != nil {
		// The policy's conditions belong to the policy reconciler: say it
		// with an event, and wait for the spec to change (a watch event).
		log.FromContext(ctx).Info("invalid snapshot schedule", "policy", policy.Name, "schedule", sp.Schedule, "error", err.Error())
		r.event(&policy, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidSchedule,
			"spec.snapshots.schedule %q is not a cron expression: %v", sp.Schedule, err)
		return ctrl.Result{}, nil
	}

	now := r.now()
	next := ctrl.Result{RequeueAfter: untilNextTick(sched, now)}
	tick, due := latestTick(sched, lastScheduledTick(&policy), now)
	if !due {
		return next, nil
	}
	name := scheduledSnapshotName(policy.Name, tick)
	for i := range scheduled {
		if scheduled[i].Name == name {
			// Created by an earlier pass that died before recording it.
			return next, r.recordScheduled(ctx, &policy, name)
		}
	}
	for i := range scheduled {
		if !snapshotFinished(&scheduled[i]) {
			// Its completion is a watch event: the tick is taken then.
			return next, nil
		}
	}
	if err := r.createScheduled(ctx, &policy, name, tick); err != nil {
		return ctrl.Result{}, err
	}
	return next, r.recordScheduled(ctx, &policy, name)
}

// scheduledSnapshots lists the snapshots policy's schedule created.
func (r *CacheSnapshotScheduleReconciler) scheduledSnapshots(ctx context.Context, policy *v1alpha1.CachePolicy) ([]v1alpha1.CacheSnapshot, error) {
	var list v1alpha1.CacheSnapshotList
	if err := r.List(ctx, &list, client.InNamespace(policy.Namespace),
		client.MatchingLabels{v1alpha1.LabelPolicy: policy.Name, v1alpha1.LabelScheduled: "true"}); err != nil {
		return nil, fmt.Errorf("list scheduled snapshots of %s: %w", policy.Name, err)
	}
	return list.Items, nil
}

// createScheduled creates the snapshot of one tick. AlreadyExists means an
// earlier pass made it: it is adopted.
func (r *CacheSnapshotScheduleReconciler) createScheduled(ctx context.Context, policy *v1alpha1.CachePolicy, name string, tick time.Time) error {
	snap := &v1alpha1.CacheSnapshot{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: policy.Namespace, Name: name,
			Labels: map[string]string{v1alpha1.LabelPolicy: policy.Name, v1alpha1.LabelScheduled: "true"},
		},
		Spec: v1alpha1.CacheSnapshotSpec{
			PolicyRef: v1alpha1.LocalObjectReference{Name: policy.Name},
			Scope:     policy.Spec.Snapshots.Scope,
		},
	}
	if err := controllerutil.SetControllerReference(policy, snap, r.Scheme()); err != nil {
		return fmt.Errorf("owner reference: %w", err)
	}
	if err := r.Create(ctx, snap); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("create scheduled snapshot %s: %w", name, err)
	}
	r.event(policy, snap, corev1.EventTypeNormal, v1alpha1.ReasonSnapshotScheduled,
		"created CacheSnapshot %s for the tick at %s", name, tick.UTC().Format(time.RFC3339))
	return nil
}

// recordScheduled sets policy.status.lastScheduledSnapshot, re-reading the
// policy on a conflict: its status has other writers.
func (r *CacheSnapshotScheduleReconciler) recordScheduled(ctx context.Context, policy *v1alpha1.CachePolicy, name string) error {
	return r.updateLastScheduled(ctx, policy, func(ref **v1alpha1.SnapshotRef) bool {
		if *ref != nil && (*ref).Name == name {
			return false
		}
		*ref = &v1alpha1.SnapshotRef{Name: name}
		return true
	})
}

// recordCompletion copies the completion time of the last scheduled
// snapshot into the policy's reference to it, once it finished.
func (r *CacheSnapshotScheduleReconciler) recordCompletion(ctx context.Context, policy *v1alpha1.CachePolicy, scheduled []v1alpha1.CacheSnapshot) error {
	ref := policy.Status.LastScheduledSnapshot
	if ref == nil || ref.CompletionTime != nil {
		return nil
	}
	for i := range scheduled {
		s := &scheduled[i]
		if s.Name != ref.Name || !snapshotFinished(s) || s.Status.CompletionTime == nil {
			continue
		}
		done := *s.Status.CompletionTime
		return r.updateLastScheduled(ctx, policy, func(ref **v1alpha1.SnapshotRef) bool {
			if *ref == nil || (*ref).Name != s.Name || (*ref).CompletionTime != nil {
				return false
			}
			(*ref).CompletionTime = &done
			return true
		})
	}
	return nil
}

// updateLastScheduled applies edit to the policy's lastScheduledSnapshot
// and writes it with optimistic concurrency, re-reading and re-applying on
// a conflict. edit reports whether it changed anything.
func (r *CacheSnapshotScheduleReconciler) updateLastScheduled(ctx context.Context, policy *v1alpha1.CachePolicy, edit func(**v1alpha1.SnapshotRef) bool) error {
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			if err := r.Get(ctx, client.ObjectKeyFromObject(policy), policy); err != nil {
				return err
			}
		}
		first = false
		if !edit(&policy.Status.LastScheduledSnapshot) {
			return nil
		}
		return r.Status().Update(ctx, policy)
	})
	if err != nil {
		return fmt.Errorf("record last scheduled snapshot of %s: %w", policy.Name, err)
	}
	return nil
}

// lastScheduledTick is the tick the schedule last acted on: the one in the
// name of the policy's lastScheduledSnapshot, else the policy's creation
// (a new schedule does not fire for ticks before the policy existed).
func lastScheduledTick(policy *v1alpha1.CachePolicy) time.Time {
	if ref := policy.Status.LastScheduledSnapshot; ref != nil {
		if t, ok := tickOfName(policy.Name, ref.Name); ok {
			return t
		}
	}
	return policy.CreationTimestamp.Time
}

// scheduledTickLayout formats a tick in scheduled snapshot names.
const scheduledTickLayout = "20060102150405"

// maxSnapshotNameLen is the longest object name.
const maxSnapshotNameLen = 253

// scheduledSnapshotName is the name of the snapshot of policy's tick:
// <policy>-<YYYYMMDDhhmmss> in UTC, the policy name shortened if the whole
// would exceed the limit of object names.
func scheduledSnapshotName(policy string, tick time.Time) string {
	suffix := "-" + tick.UTC().Format(scheduledTickLayout)
	prefix := policy
	if len(prefix)+len(suffix) > maxSnapshotNameLen {
		// Names are DNS subdomains: the cut must not leave a '-' or '.'
		// next to the suffix's own '-'.
		prefix = strings.TrimRight(prefix[:maxSnapshotNameLen-len(suffix)], "-.")
	}
	return prefix + suffix
}

// tickOfName recovers the tick from a name scheduledSnapshotName gave
// policy's snapshot.
func tickOfName(policy, name string) (time.Time, bool) {
	if len(name) < len(scheduledTickLayout)+1 {
		return time.Time{}, false
	}
	stamp := name[len(name)-len(scheduledTickLayout):]
	t, err := time.ParseInLocation(scheduledTickLayout, stamp, time.UTC)
	if err != nil || scheduledSnapshotName(policy, t) != name {
		return time.Time{}, false
	}
	return t, true
}

// latestTick returns the latest tick of sched in (after, now], if any.
// Searching backwards from now in doubling windows, rather than forwards
// from after, bounds the work after a long outage to a few dozen calls.
func latestTick(sched cron.Schedule, after, now time.Time) (time.Time, bool) {
	span := now.Sub(after)
	if span <= 0 {
		return time.Time{}, false
	}
	for window := min(time.Minute, span); ; {
		from := now.Add(-window)
		if window == span {
			from = after
		}
		if t := sched.Next(from); !t.IsZero() && !t.After(now) {
			for n := sched.Next(t); !n.IsZero() && !n.After(now); n = sched.Next(n) {
				t = n
			}
			return t, true
		}
		if window == span {
			return time.Time{}, false
		}
		// Doubling must neither overshoot span nor overflow.
		if window > span/2 {
			window = span
		} else {
			window *= 2
		}
	}
}

// untilNextTick is how long until sched's next tick after now. A schedule
// that never fires again (cron gives up after five years) is looked at
// daily.
func untilNextTick(sched cron.Schedule, now time.Time) time.Duration {
	next := sched.Next(now)
	if next.IsZero() {
		return 24 * time.Hour
	}
	return next.Sub(now)
}

func (r *CacheSnapshotScheduleReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// event emits an event about policy, if there is a recorder. related is
// nil or an object that exists (never a typed nil pointer).
func (r *CacheSnapshotScheduleReconciler) event(policy *v1alpha1.CachePolicy, related runtime.Object, kind, reason, note string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(policy, related, kind, reason, "Schedule", note, args...)
	}
}

// SetupWithManager watches policies (spec changes only: status updates,
// this reconciler's own included, change no schedule) and the snapshots
// they own, whose completion lets the next tick through and feeds
// retention.
func (r *CacheSnapshotScheduleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.CachePolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&v1alpha1.CacheSnapshot{}).
		Named("cachesnapshot-schedule").
		Complete(r)
}
