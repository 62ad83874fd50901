package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SnapshotSourceStrategy says how the source pod is chosen.
//
// +kubebuilder:validation:Enum=AnyReadyPod;Pod
type SnapshotSourceStrategy string

// Source strategies.
const (
	// SourceAnyReadyPod picks a ready pod of the policy, preferring one
	// that runs the current policy.
	SourceAnyReadyPod SnapshotSourceStrategy = "AnyReadyPod"
	// SourcePod uses the pod named in podName.
	SourcePod SnapshotSourceStrategy = "Pod"
)

// SnapshotSource chooses the pod whose cache is exported.
//
// +kubebuilder:validation:XValidation:rule="has(self.strategy) && self.strategy == 'Pod' ? has(self.podName) && size(self.podName) > 0 : !has(self.podName)",message="podName is required with strategy Pod and not allowed otherwise"
type SnapshotSource struct {
	// strategy is AnyReadyPod (the default) or Pod.
	// +optional
	// +kubebuilder:default=AnyReadyPod
	Strategy SnapshotSourceStrategy `json:"strategy,omitempty"`
	// podName is the source pod with strategy Pod.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PodName string `json:"podName,omitempty"`
}

// SnapshotScope says which tiers a snapshot copies.
//
// +kubebuilder:validation:Enum=Local;All
type SnapshotScope string

// Snapshot scopes.
const (
	// ScopeLocal copies the pod's own tiers (memory and disk).
	ScopeLocal SnapshotScope = "Local"
	// ScopeAll copies every tier, Redis included, each key once from the
	// fastest tier holding it.
	ScopeAll SnapshotScope = "All"
)

// CacheSnapshotSpec says which pod's cache to export. It is immutable.
type CacheSnapshotSpec struct {
	// policyRef names the CachePolicy whose pods are candidates.
	// +required
	PolicyRef LocalObjectReference `json:"policyRef"`
	// source chooses the pod.
	// +optional
	// +kubebuilder:default={}
	Source SnapshotSource `json:"source,omitzero"`
	// scope is Local (the default: the pod's memory and disk tiers) or All
	// (every tier, Redis included).
	// +optional
	// +kubebuilder:default=Local
	Scope SnapshotScope `json:"scope,omitempty"`
}

// CacheSnapshotStatus is the outcome of a CacheSnapshot.
type CacheSnapshotStatus struct {
	// observedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Reconciling while running, then Complete (and Ready) or
	// Failed.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// startTime is when the operator asked the agent.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// completionTime is when it finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// sourcePod is the pod whose agent wrote the snapshot.
	// +optional
	SourcePod string `json:"sourcePod,omitempty"`
	// sourceAdminPort is the policy's adminPort when the source was chosen
	// (0: the default), the port that pod's agent listens on unless the
	// pod's annotation says otherwise. The file is removed through it once
	// the policy is gone.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	SourceAdminPort int32 `json:"sourceAdminPort,omitempty"`
	// sourceSessionID is that agent's session: a snapshot is only
	// meaningful for the process that wrote it.
	// +optional
	SourceSessionID string `json:"sourceSessionID,omitempty"`
	// path of the file inside the source pod's agent container.
	// +optional
	Path string `json:"path,omitempty"`
	// entries written.
	// +optional
	Entries int64 `json:"entries,omitempty"`
	// bytes written.
	// +optional
	Bytes int64 `json:"bytes,omitempty"`
	// checksum of the file.
	// +optional
	Checksum string `json:"checksum,omitempty"`
	// invalidationSequence is the watermark: the snapshot includes every
	// invalidation of the policy up to it, so a restore replays only newer
	// ones.
	// +optional
	InvalidationSequence int64 `json:"invalidationSequence,omitempty"`
	// attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
}

// CacheSnapshot exports one agent's cache to a file in the pod (the
// policy's snapshots.path), once. Deleting it deletes the file: the
// finalizer cache.layercache.io/snapshot-file holds it until the agent has
// removed the file, for at most 10 minutes while the agent fails.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=csnap,categories=layercache
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.policyRef.name`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.status.sourcePod`
// +kubebuilder:printcolumn:name="Entries",type=integer,JSONPath=`.status.entries`
// +kubebuilder:printcolumn:name="Complete",type=string,JSONPath=`.status.conditions[?(@.type=="Complete")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type CacheSnapshot struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what to export.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable; create a new CacheSnapshot"
	Spec CacheSnapshotSpec `json:"spec"`
	// status is the outcome.
	// +optional
	Status CacheSnapshotStatus `json:"status,omitzero"`
}

// CacheSnapshotList is a list of CacheSnapshot.
//
// +kubebuilder:object:root=true
type CacheSnapshotList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CacheSnapshot `json:"items"`
}
