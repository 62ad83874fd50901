package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CacheInvalidationSpec says what to remove, from which tiers, and how the
// operator goes about it. It is immutable: create a new object to
// invalidate again.
type CacheInvalidationSpec struct {
	// policyRef names the CachePolicy whose agents are invalidated.
	// +required
	PolicyRef LocalObjectReference `json:"policyRef"`
	// target selects the entries.
	// +required
	Target InvalidationTarget `json:"target"`
	// layers to invalidate. Defaults to every tier the policy enables.
	// Redis is invalidated once (through one agent); Memory and Disk on
	// every pod.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=3
	Layers []Layer `json:"layers,omitempty"`
	// podSelector narrows the policy's pods whose local tiers are purged.
	// +optional
	PodSelector *metav1.LabelSelector `json:"podSelector,omitempty"`
	// parallelism is how many pods are purged at once. Defaults to 10.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	Parallelism *int32 `json:"parallelism,omitempty"`
	// perPodTimeoutSeconds bounds one call to one pod. Defaults to 10.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	PerPodTimeoutSeconds *int32 `json:"perPodTimeoutSeconds,omitempty"`
	// backoffLimit is how many times a failed pod is retried, with
	// exponential backoff, before the invalidation fails. Defaults to 3.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// activeDeadlineSeconds bounds the whole run. Defaults to 300.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	ActiveDeadlineSeconds *int32 `json:"activeDeadlineSeconds,omitempty"`
	// ttlSecondsAfterFinished deletes the object this long after it
	// finished. Defaults to the policy's invalidation.ttlSecondsAfterFinished;
	// unset in both means kept (subject to the policy's historyLimit).
	// +optional
	// +kubebuilder:validation:Minimum=0
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// InvalidationTarget selects entries. Exactly one field is set.
//
// Every key, key prefix, pattern and tag follows the agent's key rules: at
// most 1024 bytes of UTF-8 (a character outside ASCII takes 2 to 4), and no
// control characters (U+0000 to U+001F, U+007F). The API server refuses a
// target the agents would refuse, so that it never takes a sequence number.
//
// +kubebuilder:validation:XValidation:rule="[has(self.tags), has(self.keys), has(self.keyPrefixes), has(self.patterns), has(self.all) && self.all].filter(x, x).size() == 1",message="set exactly one of tags, keys, keyPrefixes, patterns or all: true"
type InvalidationTarget struct {
	// tags selects entries carrying the tags.
	// +optional
	Tags *TagTarget `json:"tags,omitempty"`
	// keys lists exact keys.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:XValidation:rule="bytes(self).size() <= 1024",message="must be at most 1024 bytes in UTF-8, the agent's limit (a character outside ASCII takes 2 to 4 bytes)"
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('[[:cntrl:]]')",message="must not contain control characters (U+0000 to U+001F, U+007F)"
	Keys []string `json:"keys,omitempty"`
	// keyPrefixes selects keys starting with any of them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:XValidation:rule="bytes(self).size() <= 1024",message="must be at most 1024 bytes in UTF-8, the agent's limit (a character outside ASCII takes 2 to 4 bytes)"
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('[[:cntrl:]]')",message="must not contain control characters (U+0000 to U+001F, U+007F)"
	KeyPrefixes []string `json:"keyPrefixes,omitempty"`
	// patterns selects keys matching any of them: `*` matches any run of
	// characters, `?` one character, `\` escapes the next (so a pattern
	// cannot end in a lone `\`).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:XValidation:rule="bytes(self).size() <= 1024",message="must be at most 1024 bytes in UTF-8, the agent's limit (a character outside ASCII takes 2 to 4 bytes)"
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('[[:cntrl:]]')",message="must not contain control characters (U+0000 to U+001F, U+007F)"
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches(r'(^|[^\\])(\\\\)*\\$')`,message="must not end in an unescaped backslash: write \\\\ for a literal one"
	Patterns []string `json:"patterns,omitempty"`
	// all selects every entry (within the policy's Redis keyPrefix for the
	// shared tier).
	// +optional
	All bool `json:"all,omitempty"`
}

// TagTarget selects entries by tag.
type TagTarget struct {
	// values are the tags, at most 128 (the most an entry carries).
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:items:XValidation:rule="bytes(self).size() <= 1024",message="must be at most 1024 bytes in UTF-8, the agent's limit (a character outside ASCII takes 2 to 4 bytes)"
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('[[:cntrl:]]')",message="must not contain control characters (U+0000 to U+001F, U+007F)"
	Values []string `json:"values"`
	// match is Any (entries carrying at least one tag, the default) or All
	// (entries carrying every tag).
	// +optional
	// +kubebuilder:validation:Enum=Any;All
	Match string `json:"match,omitempty"`
}

// PodInvalidationState is the state of one pod in an invalidation.
//
// +kubebuilder:validation:Enum=Pending;Succeeded;Failed;Gone
type PodInvalidationState string

// Pod states of an invalidation.
const (
	// PodPending: not yet acknowledged; retried until the backoff limit.
	PodPending PodInvalidationState = "Pending"
	// PodSucceeded: the agent acknowledged the purge.
	PodSucceeded PodInvalidationState = "Succeeded"
	// PodFailed: the agent failed more than backoffLimit times.
	PodFailed PodInvalidationState = "Failed"
	// PodGone: the pod went away; its local tiers went with it.
	PodGone PodInvalidationState = "Gone"
)

// PodInvalidationResult is one target pod's progress.
type PodInvalidationResult struct {
	// name of the pod.
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// uid of the pod when the target set was frozen.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	UID string `json:"uid,omitempty"`
	// state of the purge on this pod.
	State PodInvalidationState `json:"state"`
	// attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// keysRemoved as reported by the agent.
	// +optional
	KeysRemoved int64 `json:"keysRemoved,omitempty"`
	// sessionID of the agent that acknowledged.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	SessionID string `json:"sessionID,omitempty"`
	// lastError of a failed attempt.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	LastError string `json:"lastError,omitempty"`
	// nextAttemptTime is when a Pending pod is retried.
	// +optional
	NextAttemptTime *metav1.Time `json:"nextAttemptTime,omitempty"`
	// completionTime is when the pod acknowledged.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// SharedLayerResult records the one-time invalidation of the shared tier.
type SharedLayerResult struct {
	// layer is Redis.
	Layer Layer `json:"layer"`
	// executedBy is the pod whose agent ran it.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ExecutedBy string `json:"executedBy,omitempty"`
	// keysRemoved as reported by the agent.
	// +optional
	KeysRemoved int64 `json:"keysRemoved,omitempty"`
	// attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// lastError of a failed attempt.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	LastError string `json:"lastError,omitempty"`
	// nextAttemptTime is when a failed attempt is retried (after the same
	// delays as a pod's); unset before the first attempt and once done.
	// +optional
	NextAttemptTime *metav1.Time `json:"nextAttemptTime,omitempty"`
	// completionTime is when it was acknowledged; unset while pending.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// CacheInvalidationStatus is the progress of a CacheInvalidation.
type CacheInvalidationStatus struct {
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
	// sequence is this invalidation's number within its policy. Agents
	// report the highest they applied, so restarted pods catch up.
	// +optional
	Sequence int64 `json:"sequence,omitempty"`
	// startTime is when the operator froze the target pods.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// completionTime is when it finished (Complete or Failed).
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// duration from start to completion.
	// +optional
	Duration string `json:"duration,omitempty"`
	// targets is the number of pods frozen at start.
	// +optional
	Targets int32 `json:"targets,omitempty"`
	// succeeded pods acknowledged the purge.
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`
	// failed pods ran out of retries.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// pending pods are still being purged.
	// +optional
	Pending int32 `json:"pending,omitempty"`
	// gone pods went away during the run.
	// +optional
	Gone int32 `json:"gone,omitempty"`
	// progress is "finished/targets" (succeeded and gone pods count as
	// finished).
	// +optional
	Progress string `json:"progress,omitempty"`
	// keysRemoved sums what the agents reported.
	// +optional
	KeysRemoved int64 `json:"keysRemoved,omitempty"`
	// sharedLayers records the shared tier's one-time invalidation.
	// +optional
	// +listType=map
	// +listMapKey=layer
	// +kubebuilder:validation:MaxItems=1
	SharedLayers []SharedLayerResult `json:"sharedLayers,omitempty"`
	// pods holds every target pod while there are at most 100 of them;
	// beyond that, only those not Succeeded (and at most 100).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	Pods []PodInvalidationResult `json:"pods,omitempty"`
}

// CacheInvalidation removes entries from the agents of a CachePolicy once,
// like a Job: the shared Redis tier once, each pod's local tiers with an
// acknowledgement per pod. `kubectl wait --for=condition=Complete` waits for
// it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cinv,categories=layercache
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.policyRef.name`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Complete",type=string,JSONPath=`.status.conditions[?(@.type=="Complete")].status`
// +kubebuilder:printcolumn:name="Failed",type=string,JSONPath=`.status.conditions[?(@.type=="Failed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`,priority=1
type CacheInvalidation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what to invalidate.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable; create a new CacheInvalidation"
	Spec CacheInvalidationSpec `json:"spec"`
	// status is the progress.
	// +optional
	Status CacheInvalidationStatus `json:"status,omitzero"`
}

// CacheInvalidationList is a list of CacheInvalidation.
//
// +kubebuilder:object:root=true
type CacheInvalidationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CacheInvalidation `json:"items"`
}
