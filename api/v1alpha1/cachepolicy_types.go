package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CachePolicySpec configures the cache agents of the pods it selects.
type CachePolicySpec struct {
	// selector picks the pods (in the policy's namespace) whose agents this
	// policy configures. An empty selector selects no pods.
	// +required
	Selector metav1.LabelSelector `json:"selector"`

	// suspend stops the operator from pushing the policy and from polling
	// agents; status is frozen and Reconciling is False with reason
	// Suspended. Agents keep the policy they have.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// layers configures the cache tiers.
	// +optional
	Layers LayersSpec `json:"layers,omitempty"`

	// freshness holds the defaults every write gets.
	// +optional
	Freshness *FreshnessSpec `json:"freshness,omitempty"`

	// origins map key patterns to upstream URLs: agents load a missing key
	// from the first origin whose pattern matches it (read-through), and
	// warming goes through them.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Origins []OriginSpec `json:"origins,omitempty"`

	// warming loads keys through the origins when an agent applies the
	// policy.
	// +optional
	Warming *WarmingSpec `json:"warming,omitempty"`

	// snapshots configures where agents write snapshots and, with a
	// schedule, makes the operator take them periodically.
	// +optional
	Snapshots *SnapshotPolicy `json:"snapshots,omitempty"`

	// invalidation holds defaults and clean-up rules for the policy's
	// CacheInvalidations.
	// +optional
	Invalidation *InvalidationDefaults `json:"invalidation,omitempty"`

	// rollout bounds how a policy change reaches the agents.
	// +optional
	Rollout *RolloutSpec `json:"rollout,omitempty"`

	// adminPort is the port of the agents' admin API. Defaults to 7443; a
	// pod annotation cache.layercache.io/admin-port overrides it per pod.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	AdminPort int32 `json:"adminPort,omitempty"`
}

// LayersSpec configures the tiers. The memory tier is always present.
//
// +kubebuilder:validation:XValidation:rule="!has(self.bus) || !self.bus.enabled || (has(self.redis) && self.redis.enabled)",message="bus.enabled needs the redis layer: set redis.enabled and redis.address"
type LayersSpec struct {
	// memory is each agent's in-process tier.
	// +optional
	Memory *MemoryLayerSpec `json:"memory,omitempty"`
	// redis is the tier shared by every agent of the policy.
	// +optional
	Redis *RedisLayerSpec `json:"redis,omitempty"`
	// disk is each agent's local persistent tier.
	// +optional
	Disk *DiskLayerSpec `json:"disk,omitempty"`
	// bus makes a key deleted through one agent disappear from the memory
	// and disk tiers of the others, over Redis pub/sub.
	// +optional
	Bus *BusSpec `json:"bus,omitempty"`
}

// MemoryLayerSpec configures the in-process tier.
type MemoryLayerSpec struct {
	// maxEntries bounds the number of entries. Defaults to 10000.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000000
	MaxEntries int32 `json:"maxEntries,omitempty"`
	// maxSize bounds the estimated size of the entries (for example
	// "256Mi", at least 176 bytes). Unset means bounded by maxEntries
	// only.
	// +optional
	MaxSize *resource.Quantity `json:"maxSize,omitempty"`
	// ttl overrides freshness.ttl for this tier.
	// +optional
	TTL Duration `json:"ttl,omitempty"`
}

// RedisLayerSpec configures the shared tier.
//
// +kubebuilder:validation:XValidation:rule="!self.enabled || (has(self.address) && size(self.address) > 0)",message="redis.address is required when the redis layer is enabled"
// +kubebuilder:validation:XValidation:rule="!self.enabled || (has(self.keyPrefix) && size(self.keyPrefix) > 0)",message="redis.keyPrefix is required when the redis layer is enabled, so that invalidating everything stays within this policy's keys"
type RedisLayerSpec struct {
	// enabled turns the tier on.
	// +required
	Enabled bool `json:"enabled"`
	// address is the server's host:port.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[^\s:]+:[0-9]{1,5}$`
	Address string `json:"address,omitempty"`
	// username is the ACL user; empty for the default user.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Username string `json:"username,omitempty"`
	// passwordSecretRef selects the password in a Secret. The injected
	// agent mounts it; the operator never reads it.
	// +optional
	PasswordSecretRef *SecretKeyRef `json:"passwordSecretRef,omitempty"`
	// db is the logical database.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=15
	DB int32 `json:"db,omitempty"`
	// keyPrefix starts every key the agents store, so several policies can
	// share one server; invalidating everything clears only this prefix.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	KeyPrefix string `json:"keyPrefix,omitempty"`
	// ttl overrides freshness.ttl for this tier.
	// +optional
	TTL Duration `json:"ttl,omitempty"`
	// compression applied to large entries.
	// +optional
	// +kubebuilder:validation:Enum=None;Gzip;Zstd;Brotli
	Compression string `json:"compression,omitempty"`
	// circuitBreaker, when set, makes agents skip Redis after repeated
	// failures and serve from their local tiers until it recovers.
	// +optional
	CircuitBreaker *CircuitBreakerSpec `json:"circuitBreaker,omitempty"`
}

// CircuitBreakerSpec configures a circuit breaker.
//
// +kubebuilder:validation:XValidation:rule="!has(self.minimumRequests) || (has(self.failureRatioPercent) && self.failureRatioPercent > 0)",message="minimumRequests applies only with failureRatioPercent"
type CircuitBreakerSpec struct {
	// consecutiveFailures trips the breaker after this many failures in a
	// row. Defaults to 5 when failureRatioPercent is unset.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`
	// failureRatioPercent trips the breaker when at least this percentage
	// of the calls of the last 10 seconds failed.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	FailureRatioPercent int32 `json:"failureRatioPercent,omitempty"`
	// minimumRequests is how many calls must have ended in the window
	// before failureRatioPercent applies. Defaults to 20.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	MinimumRequests int32 `json:"minimumRequests,omitempty"`
	// openSeconds is how long a tripped breaker refuses calls. Defaults
	// to 30.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	OpenSeconds int32 `json:"openSeconds,omitempty"`
	// halfOpenMaxRequests is how many trial calls a breaker lets through
	// after openSeconds. Defaults to 1.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	HalfOpenMaxRequests int32 `json:"halfOpenMaxRequests,omitempty"`
}

// DiskLayerSpec configures the local persistent tier.
type DiskLayerSpec struct {
	// enabled turns the tier on.
	// +required
	Enabled bool `json:"enabled"`
	// path is the directory, inside the agent container, that holds the
	// records. Defaults to /var/cache/layercache/disk.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/`
	Path string `json:"path,omitempty"`
	// maxSize bounds the total size of the records. Defaults to 1Gi.
	// +optional
	MaxSize *resource.Quantity `json:"maxSize,omitempty"`
	// ttl overrides freshness.ttl for this tier.
	// +optional
	TTL Duration `json:"ttl,omitempty"`
}

// BusSpec configures the invalidation bus.
type BusSpec struct {
	// enabled turns the bus on. It needs the redis layer.
	// +required
	Enabled bool `json:"enabled"`
	// channel is the pub/sub channel. Defaults to "layercache:bus:"
	// followed by the redis keyPrefix.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Channel string `json:"channel,omitempty"`
	// secretRef selects an HMAC key (at least 32 bytes) that signs bus
	// messages. Unset means unsigned messages.
	// +optional
	SecretRef *SecretKeyRef `json:"secretRef,omitempty"`
}

// FreshnessSpec holds the defaults every write gets.
type FreshnessSpec struct {
	// ttl is how long an entry stays fresh. Unset means it never goes
	// stale.
	// +optional
	TTL Duration `json:"ttl,omitempty"`
	// staleWhileRevalidate is how long after ttl a stale entry is still
	// served while one background fetch replaces it.
	// +optional
	StaleWhileRevalidate Duration `json:"staleWhileRevalidate,omitempty"`
	// staleIfError is how long after ttl a stale entry is served when its
	// origin fails.
	// +optional
	StaleIfError Duration `json:"staleIfError,omitempty"`
	// negativeTTL is how long an origin's "not found" is remembered.
	// +optional
	NegativeTTL Duration `json:"negativeTTL,omitempty"`
	// jitter lengthens each written TTL by a random amount up to this, so
	// entries written together do not expire together.
	// +optional
	Jitter Duration `json:"jitter,omitempty"`
}

// OriginSpec maps keys to an upstream URL that serves their JSON values.
type OriginSpec struct {
	// keyPattern selects keys: `*` matches any run of characters, `?` one
	// character, `\` escapes the next. Each wildcard is a capture,
	// numbered from 1.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	KeyPattern string `json:"keyPattern"`
	// urlTemplate is the http or https URL to GET: "{1}", "{2}", ... are
	// replaced by the captures and "{key}" by the whole key, each
	// path-escaped. Example: "http://users.default.svc/users/{1}".
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://`
	URLTemplate string `json:"urlTemplate"`
	// timeout bounds one request. Defaults to 10s.
	// +optional
	Timeout Duration `json:"timeout,omitempty"`
	// ttl overrides freshness.ttl for entries loaded from this origin.
	// +optional
	TTL Duration `json:"ttl,omitempty"`
	// tags are attached to entries loaded from this origin.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MaxLength=1024
	Tags []string `json:"tags,omitempty"`
}

// WarmingSpec lists keys to load ahead of demand.
//
// +kubebuilder:validation:XValidation:rule="(has(self.keys) && size(self.keys) > 0) || has(self.keysFrom) || has(self.fromSnapshot)",message="warming needs keys, keysFrom or fromSnapshot"
type WarmingSpec struct {
	// keys are loaded through their origins (each must match one).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=1024
	Keys []string `json:"keys,omitempty"`
	// keysFrom reads more keys, one per line, from a ConfigMap (up to
	// 10000 in all). Blank lines and lines starting with # are skipped.
	// +optional
	KeysFrom *ConfigMapKeyRef `json:"keysFrom,omitempty"`
	// fromSnapshot names a complete CacheSnapshot of this policy that
	// agents starting with empty local tiers load first. Its file must be
	// reachable at the same path from their pods (a shared volume mounted at
	// spec.snapshots.path). Invalidations newer than the snapshot are
	// replayed to them, so purged entries do not come back; such an agent
	// is not ready until the operator has confirmed that (or the warming
	// timeout has passed).
	// +optional
	FromSnapshot *LocalObjectReference `json:"fromSnapshot,omitempty"`
	// concurrency is how many keys load at once. Defaults to 4.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=256
	Concurrency int32 `json:"concurrency,omitempty"`
	// blockReadiness keeps the agent's /readyz failing until the first
	// warm-up finished or timed out.
	// +optional
	BlockReadiness bool `json:"blockReadiness,omitempty"`
	// timeoutSeconds bounds a warm-up; readiness opens when it passes.
	// Defaults to 300.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
}

// SnapshotPolicy configures snapshots.
type SnapshotPolicy struct {
	// path is the directory, inside the agent container, snapshots are
	// written to. Defaults to /var/cache/layercache/snapshots.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/`
	Path string `json:"path,omitempty"`
	// schedule is a 5-field cron expression ("0 * * * *") or a descriptor
	// ("@hourly"); the operator then creates a CacheSnapshot at each tick.
	// Unset means snapshots are taken only on request.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Schedule string `json:"schedule,omitempty"`
	// suspend pauses the schedule.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// scope of the scheduled snapshots: Local (the default) or All.
	// +optional
	Scope SnapshotScope `json:"scope,omitempty"`
	// keepLast is how many finished scheduled snapshots are kept; older
	// ones are deleted, and their files with them. Defaults to 5.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	KeepLast int32 `json:"keepLast,omitempty"`
}

// InvalidationDefaults holds defaults and clean-up rules for the policy's
// CacheInvalidations.
type InvalidationDefaults struct {
	// historyLimit is how many finished CacheInvalidations of this policy
	// are kept; older ones are deleted. Defaults to 20.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	HistoryLimit int32 `json:"historyLimit,omitempty"`
	// ttlSecondsAfterFinished deletes a finished CacheInvalidation this
	// long after it finished, unless it sets its own.
	// +optional
	// +kubebuilder:validation:Minimum=0
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
}

// RolloutSpec bounds how a policy change reaches the agents.
type RolloutSpec struct {
	// maxConcurrent is how many agents are reconfigured at once. Defaults
	// to 10.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxConcurrent int32 `json:"maxConcurrent,omitempty"`
}

// AgentCounts counts the selected agents by state.
type AgentCounts struct {
	// selected pods are running and match the selector.
	Selected int32 `json:"selected"`
	// synced agents run the current policy.
	Synced int32 `json:"synced"`
	// ready agents answer /readyz with success.
	Ready int32 `json:"ready"`
	// warming agents have not finished their warm-up.
	Warming int32 `json:"warming"`
	// breakerOpen agents have an open circuit breaker.
	BreakerOpen int32 `json:"breakerOpen"`
	// unreachable agents did not answer.
	Unreachable int32 `json:"unreachable"`
	// rejected agents refused the current policy.
	Rejected int32 `json:"rejected"`
}

// AgentState is the state of one agent, as the policy sees it.
//
// +kubebuilder:validation:Enum=Pending;Warming;Unreachable;Rejected;BreakerOpen
type AgentState string

// Agent states listed in a policy's status.
const (
	AgentPending     AgentState = "Pending"
	AgentWarming     AgentState = "Warming"
	AgentUnreachable AgentState = "Unreachable"
	AgentRejected    AgentState = "Rejected"
	AgentBreakerOpen AgentState = "BreakerOpen"
)

// AgentPodStatus reports one agent that needs attention.
type AgentPodStatus struct {
	// name of the pod.
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// state of its agent.
	State AgentState `json:"state"`
	// sessionID of the agent process, when it answered.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	SessionID string `json:"sessionID,omitempty"`
	// policyHash the agent runs.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	PolicyHash string `json:"policyHash,omitempty"`
	// message says what is wrong.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Message string `json:"message,omitempty"`
}

// InvalidationLedger is the policy's record of its invalidations. Only the
// CacheInvalidation controller writes it.
type InvalidationLedger struct {
	// lastSequence is the sequence number given to the newest
	// CacheInvalidation of this policy.
	// +optional
	LastSequence int64 `json:"lastSequence,omitempty"`
}

// SnapshotRef names a snapshot.
type SnapshotRef struct {
	// name of the CacheSnapshot.
	Name string `json:"name"`
	// completionTime is when it finished.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// CachePolicyStatus is the observed state of a CachePolicy.
type CachePolicyStatus struct {
	// observedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready, Reconciling, Stalled, Degraded.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// policyHash identifies the compiled policy agents should run.
	// +optional
	PolicyHash string `json:"policyHash,omitempty"`
	// agents counts the selected agents by state.
	// +optional
	Agents AgentCounts `json:"agents,omitzero"`
	// summary is "synced/selected".
	// +optional
	Summary string `json:"summary,omitempty"`
	// pods lists agents that need attention (not synced, unreachable,
	// rejected, breaker open), at most 20.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	Pods []AgentPodStatus `json:"pods,omitempty"`
	// invalidation records the policy's invalidation sequence.
	// +optional
	Invalidation InvalidationLedger `json:"invalidation,omitzero"`
	// lastScheduledSnapshot is the newest snapshot the schedule created.
	// +optional
	LastScheduledSnapshot *SnapshotRef `json:"lastScheduledSnapshot,omitempty"`
}

// CachePolicy configures the layercache agents of a set of pods: their
// tiers, freshness defaults, origins, warming, snapshots and breakers. The
// operator pushes it to every selected agent and reports how many run it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=cpol,categories=layercache
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.summary`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Degraded",type=string,JSONPath=`.status.conditions[?(@.type=="Degraded")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
type CachePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired configuration.
	// +required
	Spec CachePolicySpec `json:"spec"`
	// status is what the operator observed.
	// +optional
	Status CachePolicyStatus `json:"status,omitzero"`
}

// CachePolicyList is a list of CachePolicy.
//
// +kubebuilder:object:root=true
type CachePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CachePolicy `json:"items"`
}
