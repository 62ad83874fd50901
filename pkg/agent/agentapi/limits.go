package agentapi

import "time"

// Limits the agent enforces; Validate and Decode use them.
const (
	// MaxKeyLen is the longest key, tag, prefix or pattern, in bytes (the
	// engine's limit).
	MaxKeyLen = 1024
	// MaxTags is the most tags one entry (or one origin) carries.
	MaxTags = 128
	// MaxOrigins is the most origins a policy has.
	MaxOrigins = 64
	// MaxHeaders is the most headers an origin adds.
	MaxHeaders = 32
	// MaxWarmKeys is the most keys a policy warms.
	MaxWarmKeys = 10_000
	// MaxWarmConcurrency bounds Warming.Concurrency.
	MaxWarmConcurrency = 256
	// MaxTargetItems is the most keys, tags, prefixes or patterns one
	// invalidation names.
	MaxTargetItems = 10_000
	// MaxBulkKeys is the most keys one bulk request reads or writes.
	MaxBulkKeys = 1_000

	// MaxPolicyBytes is the largest policy document accepted.
	MaxPolicyBytes = 4 << 20
	// MaxRequestBytes is the largest body of the other admin requests and
	// of the data API's invalidation requests.
	MaxRequestBytes = 2 << 20
)

// Defaults applied by the agent to zero policy fields.
const (
	// DefaultOriginTimeout is Origin.Timeout when it is 0.
	DefaultOriginTimeout = 10 * time.Second
	// DefaultWarmingTimeout is Warming.Timeout when it is 0.
	DefaultWarmingTimeout = 5 * time.Minute
	// DefaultWarmingConcurrency is Warming.Concurrency when it is 0.
	DefaultWarmingConcurrency = 4
)
