package controller

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/layercache/layercache/api/v1alpha1"
)

// A policy warms only from a snapshot taken under it: the snapshot's
// watermark counts its own policy's invalidations, so one left by a deleted
// CachePolicy of the same name (its garbage collection still pending) would
// make restored agents look current to the new policy's.
func TestPolicyCompilesOnlyFromItsOwnSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	policy := newPolicy(ns, "shop", "shop", func(s *v1alpha1.CachePolicySpec) {
		s.Snapshots = &v1alpha1.SnapshotPolicy{Path: "/snapshots"}
	})
	mustCreate(t, policy)
	ref := func(uid types.UID) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "CachePolicy", Name: "shop", UID: uid}
	}
	tests := []struct {
		name, snapshot string
		owner          metav1.OwnerReference
		deleting       bool
		wantErr        string // "" compiles
	}{
		{"taken under this policy", "own", ref(policy.UID), false, ""},
		{"taken under a deleted policy of the same name", "inherited", ref("0b6d5c2a-dead-4222-8333-444455556666"), false,
			"was not taken under this CachePolicy"},
		{"being deleted, its file with it", "leaving", ref(policy.UID), true, "is being deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snap := newSnapshot(ns, tt.snapshot, "shop", nil)
			snap.OwnerReferences = []metav1.OwnerReference{tt.owner}
			snap.Finalizers = []string{"test.layercache.io/hold"} // no operator runs here to remove it
			mustCreate(t, snap)
			t.Cleanup(func() {
				s := getSnapshot(t, ns, tt.snapshot)
				s.Finalizers = nil
				_ = k8s.Update(ctx, s)
			})
			snap.Status.Path = "/snapshots/" + tt.snapshot + ".lcs"
			meta.SetStatusCondition(&snap.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionComplete,
				Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonCompleted})
			if err := k8s.Status().Update(ctx, snap); err != nil {
				t.Fatal(err)
			}
			if tt.deleting {
				if err := k8s.Delete(ctx, snap); err != nil {
					t.Fatal(err)
				}
			}
			p := policy.DeepCopy()
			p.Spec.Warming = &v1alpha1.WarmingSpec{FromSnapshot: &v1alpha1.LocalObjectReference{Name: tt.snapshot}}
			compiled, err := (&CachePolicyReconciler{Client: k8s}).compile(ctx, p)
			switch {
			case tt.wantErr == "" && (err != nil || compiled.Warming.Snapshot != snap.Status.Path):
				t.Fatalf("compile = warming snapshot %q, %v; want %q", compiled.Warming.Snapshot, err, snap.Status.Path)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("compile error = %v; want one saying %q", err, tt.wantErr)
			}
		})
	}
}
