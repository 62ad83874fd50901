package agentapi

import "time"

// Status is the agent's report to the operator (GET PathStatus).
type Status struct {
	// sessionID is random at each process start: a change tells the
	// operator that the agent restarted and its memory tier is empty.
	SessionID string `json:"sessionID"`
	// agentVersion is the agent's build version, when known.
	AgentVersion string `json:"agentVersion,omitempty"`
	// policyName, policyHash and policyGeneration identify the applied
	// policy.
	PolicyName       string `json:"policyName,omitempty"`
	PolicyHash       string `json:"policyHash"`
	PolicyGeneration int64  `json:"policyGeneration"`
	// policyAppliedAt is when the applied policy took effect.
	PolicyAppliedAt time.Time `json:"policyAppliedAt"`
	// rejected describes the last policy the agent refused since it
	// started, if any (the xDS NACK).
	Rejected *PolicyRejection `json:"rejected,omitempty"`
	// lastInvalidationSeq is the agent's invalidation watermark: the
	// highest sequence number S such that every invalidation up to S has
	// been applied to this agent's local tiers (layers "local" or "all");
	// one applied above a missing sequence does not raise it until the
	// missing one is applied. It survives restarts when the policy has a
	// disk tier (it is kept in the disk directory); otherwise it starts at
	// 0, when the local tiers are empty anyway.
	LastInvalidationSeq int64 `json:"lastInvalidationSeq"`
	// policyUID is the uid of the CachePolicy whose invalidation sequences
	// lastInvalidationSeq counts: the applied policy's. A policy of
	// another uid (a deleted and re-created CachePolicy) starts the
	// watermark again at 0, as its sequences start again at 1.
	PolicyUID string `json:"policyUID,omitempty"`
	// ready is what /readyz answers.
	Ready bool `json:"ready"`
	// awaitingSync is true from a restore of the local tiers from a
	// snapshot (Warming.Snapshot) until the operator confirms, through
	// PathSync, that the watermark includes every invalidation of the
	// policy, or until the warming timeout passes. Readiness waits for it:
	// entries an invalidation removed after the snapshot was taken are not
	// served to traffic before the operator has replayed that invalidation.
	AwaitingSync bool `json:"awaitingSync,omitempty"`
	// layers reports each tier, fastest first.
	Layers []LayerStatus `json:"layers"`
	// breakers counts the circuit breakers by state.
	Breakers BreakerStatus `json:"breakers"`
	// warming reports the latest warm-up.
	Warming WarmingStatus `json:"warming"`
	// stats are the cache's counters since the applied policy's cache was
	// built (they restart from zero when a policy change rebuilds it).
	Stats Stats `json:"stats"`
}

// PolicyRejection describes a refused policy.
type PolicyRejection struct {
	Generation int64     `json:"generation"`
	Hash       string    `json:"hash,omitempty"`
	Code       ErrorCode `json:"code"`
	Message    string    `json:"message"`
	At         time.Time `json:"at"`
}

// LayerStatus reports one tier.
type LayerStatus struct {
	Name string `json:"name"`
	// shared is true for tiers other agents see (Redis).
	Shared bool   `json:"shared"`
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
	Errors uint64 `json:"errors"`
	// degraded is true while the cache skips the tier after a failure.
	Degraded bool `json:"degraded"`
	// breaker is the state of the tier's circuit breaker ("closed",
	// "open", "half-open"); empty when it has none.
	Breaker string `json:"breaker,omitempty"`
}

// BreakerStatus counts circuit breakers by state, with their totals.
type BreakerStatus struct {
	Open     int `json:"open"`
	HalfOpen int `json:"halfOpen"`
	Closed   int `json:"closed"`
	// trips counts changes to open; rejections counts refused calls.
	Trips      uint64 `json:"trips"`
	Rejections uint64 `json:"rejections"`
}

// WarmingStatus reports a warm-up.
type WarmingStatus struct {
	Total  int `json:"total"`
	Done   int `json:"done"`
	Failed int `json:"failed"`
	// complete is true when the warm-up ended (all keys done, timed out or
	// superseded by a newer policy).
	Complete bool `json:"complete"`
	// timedOut is true when warming.timeout ended it.
	TimedOut bool `json:"timedOut,omitempty"`
}

// Stats are the cache engine's counters (cache.Stats).
type Stats struct {
	Hits              uint64 `json:"hits"`
	Misses            uint64 `json:"misses"`
	StaleHits         uint64 `json:"staleHits"`
	NegativeHits      uint64 `json:"negativeHits"`
	Fetches           uint64 `json:"fetches"`
	FetchErrors       uint64 `json:"fetchErrors"`
	Dedupes           uint64 `json:"dedupes"`
	Refreshes         uint64 `json:"refreshes"`
	RefreshErrors     uint64 `json:"refreshErrors"`
	Sets              uint64 `json:"sets"`
	Deletes           uint64 `json:"deletes"`
	Backfills         uint64 `json:"backfills"`
	WriteFailures     uint64 `json:"writeFailures"`
	FencedWrites      uint64 `json:"fencedWrites"`
	Corrupt           uint64 `json:"corrupt"`
	LayerErrors       uint64 `json:"layerErrors"`
	Invalidations     uint64 `json:"invalidations"`
	Expirations       uint64 `json:"expirations"`
	TagErrors         uint64 `json:"tagErrors"`
	Degradations      uint64 `json:"degradations"`
	BreakerOpen       uint64 `json:"breakerOpen"`
	RateLimited       uint64 `json:"rateLimited"`
	BusPublished      uint64 `json:"busPublished"`
	BusReceived       uint64 `json:"busReceived"`
	BusErrors         uint64 `json:"busErrors"`
	BusReconnects     uint64 `json:"busReconnects"`
	RemoteResults     uint64 `json:"remoteResults"`
	CoordinatorErrors uint64 `json:"coordinatorErrors"`
}

// PolicyResult answers PUT PathPolicy.
type PolicyResult struct {
	Generation int64  `json:"generation"`
	Hash       string `json:"hash"`
	// changed is false when the policy had the applied hash (nothing was
	// rebuilt; a newer generation was recorded).
	Changed bool `json:"changed"`
	// kept names the parts carried over from the previous policy
	// ("memory", "disk", "redis-client", "redis-breaker").
	Kept []string `json:"kept,omitempty"`
}
