package controller

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/layercache/layercache/api/v1alpha1"
)

// collect is all that is done to a finished invalidation: delete it once
// its TTL has passed, and keep the policy's history within its limit.
// Running invalidations are never deleted.
func (r *CacheInvalidationReconciler) collect(ctx context.Context, inv *v1alpha1.CacheInvalidation) (ctrl.Result, error) {
	policy, err := r.getPolicy(ctx, inv.Namespace, inv.Spec.PolicyRef.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	var res ctrl.Result
	if expiry, ok := expiryOf(inv, policy); ok {
		if wait := time.Until(expiry); wait > 0 {
			res.RequeueAfter = wait
		} else {
			log.FromContext(ctx).V(1).Info("deleting finished invalidation after its TTL")
			return ctrl.Result{}, r.remove(ctx, inv)
		}
	}
	if policy != nil {
		if err := r.pruneHistory(ctx, policy); err != nil {
			return ctrl.Result{}, err
		}
	}
	return res, nil
}

// expiryOf is when a finished invalidation is deleted: completionTime plus
// its ttlSecondsAfterFinished, else the policy's default; false when
// neither is set.
func expiryOf(inv *v1alpha1.CacheInvalidation, policy *v1alpha1.CachePolicy) (time.Time, bool) {
	ttl := inv.Spec.TTLSecondsAfterFinished
	if ttl == nil && policy != nil && policy.Spec.Invalidation != nil {
		ttl = policy.Spec.Invalidation.TTLSecondsAfterFinished
	}
	if ttl == nil || inv.Status.CompletionTime == nil {
		return time.Time{}, false
	}
	return inv.Status.CompletionTime.Add(time.Duration(*ttl) * time.Second), true
}

// pruneHistory deletes the policy's finished invalidations beyond its
// historyLimit, oldest first.
func (r *CacheInvalidationReconciler) pruneHistory(ctx context.Context, policy *v1alpha1.CachePolicy) error {
	var list v1alpha1.CacheInvalidationList
	if err := r.List(ctx, &list, client.InNamespace(policy.Namespace)); err != nil {
		return fmt.Errorf("list invalidations of CachePolicy %s: %w", policy.Name, err)
	}
	for _, inv := range historyToPrune(list.Items, policy.Name, historyLimitOf(policy)) {
		log.FromContext(ctx).V(1).Info("deleting invalidation beyond the policy's historyLimit", "invalidation", inv.Name)
		if err := r.remove(ctx, inv); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes inv, unless it is already gone or was replaced by a
// new object of the same name.
func (r *CacheInvalidationReconciler) remove(ctx context.Context, inv *v1alpha1.CacheInvalidation) error {
	err := r.Delete(ctx, inv, client.Preconditions{UID: &inv.UID})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete invalidation %s: %w", inv.Name, err)
	}
	return nil
}

func historyLimitOf(policy *v1alpha1.CachePolicy) int {
	if d := policy.Spec.Invalidation; d != nil && d.HistoryLimit > 0 {
		return int(d.HistoryLimit)
	}
	return defaultHistoryLimit
}

// historyToPrune returns the finished invalidations of the named policy
// beyond the newest limit ones. Newest means latest completion, then
// highest sequence, then latest creation.
func historyToPrune(items []v1alpha1.CacheInvalidation, policy string, limit int) []*v1alpha1.CacheInvalidation {
	var done []*v1alpha1.CacheInvalidation
	for i := range items {
		inv := &items[i]
		if inv.Spec.PolicyRef.Name == policy && inv.DeletionTimestamp.IsZero() && isFinished(&inv.Status) {
			done = append(done, inv)
		}
	}
	if len(done) <= limit {
		return nil
	}
	slices.SortFunc(done, func(a, b *v1alpha1.CacheInvalidation) int {
		return cmp.Or(
			compareCompletion(b, a),
			cmp.Compare(b.Status.Sequence, a.Status.Sequence),
			b.CreationTimestamp.Compare(a.CreationTimestamp.Time),
			cmp.Compare(b.Name, a.Name),
		)
	})
	return done[limit:]
}

// compareCompletion orders x against y by completion time, an unset one
// first.
func compareCompletion(x, y *v1alpha1.CacheInvalidation) int {
	xt, yt := x.Status.CompletionTime, y.Status.CompletionTime
	switch {
	case xt != nil && yt != nil:
		return xt.Compare(yt.Time)
	case xt != nil:
		return 1
	case yt != nil:
		return -1
	}
	return 0
}
