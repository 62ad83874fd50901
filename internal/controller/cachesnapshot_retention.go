package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
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

// reasonSnapshotInUse is the reason of the event a policy gets when
// retention keeps one of its scheduled snapshots past keepLast because a
// policy warms from it. Event reasons belong in api/v1alpha1 with the
// others; this one is kept here until it moves there.
const reasonSnapshotInUse = "SnapshotInUse"

// expiredSnapshots returns the snapshots retention deletes from scheduled,
// the scheduled snapshots of one policy: the finished ones beyond the
// newest keep. Running snapshots are never chosen (and do not count), so
// retention cannot cut an export short. Nor are those inUse names (see
// snapshotsInUse): deleting one would leave the policies that warm from it
// unable to compile, and pods restored from it unconfirmed. Those are
// returned as spared; they count among the newest keep like any other.
func expiredSnapshots(scheduled []v1alpha1.CacheSnapshot, keep int, inUse map[string][]string) (expired, spared []*v1alpha1.CacheSnapshot) {
	var finished []*v1alpha1.CacheSnapshot
	for i := range scheduled {
		if snapshotFinished(&scheduled[i]) && scheduled[i].DeletionTimestamp == nil {
			finished = append(finished, &scheduled[i])
		}
	}
	if len(finished) <= keep {
		return nil, nil
	}
	slices.SortFunc(finished, newestSnapshotFirst)
	for _, snap := range finished[keep:] {
		if len(inUse[snap.Name]) > 0 {
			spared = append(spared, snap)
		} else {
			expired = append(expired, snap)
		}
	}
	return expired, spared
}

// snapshotsInUse maps the name of each snapshot that a policy of
// policies (one namespace) names in spec.warming.fromSnapshot to those
// policies' names. A policy being deleted needs no snapshot.
func snapshotsInUse(policies []v1alpha1.CachePolicy) map[string][]string {
	inUse := map[string][]string{}
	for i := range policies {
		p := &policies[i]
		if w := p.Spec.Warming; w != nil && w.FromSnapshot != nil && p.DeletionTimestamp == nil {
			inUse[w.FromSnapshot.Name] = append(inUse[w.FromSnapshot.Name], p.Name)
		}
	}
	return inUse
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
// keeps, and says which ones it keeps only because a policy warms from
// them. A snapshot already gone is fine: another pass got there first.
// Deleting is all it does: FinalizerSnapshotFile makes the snapshot
// reconciler remove each one's file from its pod before the object goes,
// as for a snapshot a user deletes.
func (r *CacheSnapshotScheduleReconciler) pruneSnapshots(ctx context.Context, policy *v1alpha1.CachePolicy, scheduled []v1alpha1.CacheSnapshot) error {
	var policies v1alpha1.CachePolicyList
	if err := r.List(ctx, &policies, client.InNamespace(policy.Namespace)); err != nil {
		return fmt.Errorf("list the policies that may warm from a snapshot: %w", err)
	}
	inUse := snapshotsInUse(policies.Items)
	expired, spared := expiredSnapshots(scheduled, keepLast(policy), inUse)
	for _, snap := range expired {
		// The precondition keeps a snapshot that was replaced under the
		// same name since it was listed.
		err := r.Delete(ctx, snap, client.Preconditions{UID: &snap.UID})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete expired snapshot %s: %w", snap.Name, err)
		}
	}
	for _, snap := range spared {
		r.event(policy, snap, corev1.EventTypeNormal, reasonSnapshotInUse,
			"kept CacheSnapshot %s beyond keepLast (%d): spec.warming.fromSnapshot of CachePolicy %s names it",
			snap.Name, keepLast(policy), strings.Join(inUse[snap.Name], ", "))
	}
	return nil
}
