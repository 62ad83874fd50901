package v1alpha1

// Condition types. Reconciling and Stalled are "abnormal-true" (kstatus):
// present only while something unusual is going on.
const (
	// ConditionReady is True when the object is in its desired state: a
	// policy applied by every selected agent, an invalidation complete, a
	// snapshot written.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is working towards
	// the desired state.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the operator cannot make progress
	// without a change from the user.
	ConditionStalled = "Stalled"
	// ConditionDegraded is True on a policy when agents run but not as
	// asked: a breaker is open, or an agent rejected the policy.
	ConditionDegraded = "Degraded"
	// ConditionComplete is True when a one-shot finished successfully, so
	// `kubectl wait --for=condition=Complete` works as for a Job.
	ConditionComplete = "Complete"
	// ConditionFailed is True when a one-shot finished without success.
	ConditionFailed = "Failed"
)

// Condition reasons.
const (
	ReasonAllAgentsSynced      = "AllAgentsSynced"
	ReasonRollingOut           = "RollingOut"
	ReasonNoPodsSelected       = "NoPodsSelected"
	ReasonAgentsUnreachable    = "AgentsUnreachable"
	ReasonSuspended            = "Suspended"
	ReasonInvalidSpec          = "InvalidSpec"
	ReasonInvalidSchedule      = "InvalidSchedule"
	ReasonBreakerOpen          = "BreakerOpen"
	ReasonAgentsRejectedPolicy = "AgentsRejectedPolicy"
	ReasonWarmingTimedOut      = "WarmingTimedOut"
	ReasonHealthy              = "Healthy"

	ReasonRunning              = "Running"
	ReasonCompleted            = "Completed"
	ReasonPolicyNotFound       = "PolicyNotFound"
	ReasonNoTargets            = "NoTargets"
	ReasonDeadlineExceeded     = "DeadlineExceeded"
	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	ReasonNoReadyPod           = "NoReadyPod"
	ReasonSnapshotFailed       = "SnapshotFailed"
)

// Labels and annotations the operator reads and writes.
const (
	// LabelPolicy names the CachePolicy an invalidation or snapshot
	// belongs to.
	LabelPolicy = "cache.layercache.io/policy"
	// LabelScheduled marks snapshots created by a policy's schedule.
	LabelScheduled = "cache.layercache.io/scheduled"
	// AnnotationReconcile set to "disabled" pauses reconciliation of the
	// object (for maintenance).
	AnnotationReconcile = "cache.layercache.io/reconcile"
	// AnnotationAdminPort overrides, on a pod, the port of its agent's
	// admin API.
	AnnotationAdminPort = "cache.layercache.io/admin-port"
)

// Event reasons of snapshot schedules.
const (
	// ReasonSnapshotScheduled is the reason of the event a policy gets
	// when its schedule creates a CacheSnapshot.
	ReasonSnapshotScheduled = "SnapshotScheduled"
)

// FinalizerSnapshotFile is the finalizer the operator puts on a
// CacheSnapshot before its agent writes the file, and removes once the
// file is deleted (or cannot be: see docs/operator.md).
const FinalizerSnapshotFile = "cache.layercache.io/snapshot-file"

// Event reasons of the removal of a deleted CacheSnapshot's file.
const (
	// ReasonSnapshotFileDeleted (Normal): the agent removed the file, or
	// had none to remove.
	ReasonSnapshotFileDeleted = "SnapshotFileDeleted"
	// ReasonSourcePodGone (Normal): the pod that wrote the file is gone or
	// no longer running, so no agent can remove it; its volume went with
	// it unless the volume is shared.
	ReasonSourcePodGone = "SourcePodGone"
	// ReasonSnapshotFileDeleteFailed (Warning): the agent could not be
	// asked, or failed; the operator asks again with backoff.
	ReasonSnapshotFileDeleteFailed = "SnapshotFileDeleteFailed"
	// ReasonSnapshotFileLeft (Warning): the operator stopped trying and
	// released the CacheSnapshot; the event names the file left behind.
	ReasonSnapshotFileLeft = "SnapshotFileLeft"
)

// Condition and event reasons of invalidations.
const (
	// ReasonTooManyTargets: the target pods do not fit in the compact
	// record the operator keeps to resume a run; narrow spec.podSelector.
	ReasonTooManyTargets = "TooManyTargets"
	// ReasonTargetsUnreadable: the record of a run's target pods (the
	// AnnotationTargets annotation) was changed and no longer decodes.
	ReasonTargetsUnreadable = "TargetsUnreadable"
	// ReasonPodFailed is the reason of the event an invalidation gets when
	// one of its pods fails for good.
	ReasonPodFailed = "PodFailed"
)

// AnnotationTargets holds, on a CacheInvalidation with more target pods
// than status.pods can list, the frozen target set (compressed), so that
// a restarted operator resumes the run exactly. The operator writes it
// once, when the run starts.
const AnnotationTargets = "cache.layercache.io/targets"
