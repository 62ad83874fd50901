package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
)

// defaultKeepLast is spec.snapshots.keepLast when unset.
const defaultKeepLast = 5

// keepLast is how many finished scheduled snapshots of policy are kept.
func keepLast(policy *v1alpha1.CachePolicy) int {
	if sp := policy.Spec.Snapshots; sp != nil && sp.KeepLast > 0 {
		return int(sp.KeepLast)
	}
	return defaultKeepLast
}

// expiredSnapshots returns the snapshots retention deletes from scheduled,
// the scheduled snapshots of one policy: the finished ones beyond the
// newest keep. Running snapshots are never chosen (and do not count), so
// retention cannot cut an export short.
func expiredSnapshots(scheduled []v1alpha1.CacheSnapshot, keep int) []*v1alpha1.CacheSnapshot {
	var finished []*v1alpha1.CacheSnapshot
	for i := range scheduled {
		if snapshotFinished(&scheduled[i]) && scheduled[i].DeletionTimestamp == nil {
			finished = append(finished, &scheduled[i])
		}
	}
	if len(finished) <= keep {
		return nil
	}
	slices.SortFunc(finished, newestSnapshotFirst)
	return finished[keep:]
}

// newestSnapshotFirst orders snapshots by creation, newest first. Names
// break ties: creation times have second precision, and scheduled names
// end with their tick, so they sort in time order.
func newestSnapshotFirst(a, b *v1alpha1.CacheSnapshot) int {
	if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(b.Name, a.Name)
}

// pruneSnapshots deletes the scheduled snapshots retention no longer
// keeps. A snapshot already gone is fine: another pass got there first.
func (r *CacheSnapshotScheduleReconciler) pruneSnapshots(ctx context.Context, policy *v1alpha1.CachePolicy, scheduled []v1alpha1.CacheSnapshot) error {
	for _, snap := range expiredSnapshots(scheduled, keepLast(policy)) {
		// The precondition keeps a snapshot that was replaced under the
		// same name since it was listed.
		err := r.Delete(ctx, snap, client.Preconditions{UID: &snap.UID})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete expired snapshot %s: %w", snap.Name, err)
		}
	}
	return nil
}
