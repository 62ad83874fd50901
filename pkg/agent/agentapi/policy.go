package agentapi

// Policy is the compiled policy document the operator pushes to every agent
// (PUT PathPolicy) and mounts as the agent's bootstrap file. The zero
// Policy is valid: a memory layer with its defaults, entries that never go
// stale, no origins, no warming.
//
// A Policy is a plain value: it holds no resources, and the agent never
// modifies one it is given.
type Policy struct {
	// generation orders policies: the agent refuses one older than the
	// policy it applied (409). Copy the CachePolicy's metadata.generation.
	// It is not part of the hash.
	Generation int64 `json:"generation,omitempty"`
	// hash identifies the content: "sha256:" and the hex digest of the
	// canonical JSON of the document without generation and hash (see
	// ComputeHash). Empty means "compute it"; a non-empty hash must match
	// the content. Applying a policy whose hash is the applied one changes
	// nothing.
	Hash string `json:"hash,omitempty"`
	// uid is the CachePolicy's metadata.uid. Generations are compared
	// only between policies of the same uid: a deleted and re-created
	// CachePolicy starts again at generation 1 and must still apply.
	UID string `json:"uid,omitempty"`
	// name says where the policy comes from ("namespace/name" of the
	// CachePolicy); informational, reported in Status.
	Name string `json:"name,omitempty"`
	// layers configures the cache tiers, fastest first: memory (always),
	// Redis (shared) and disk (local), when set.
	Layers Layers `json:"layers,omitzero"`
	// freshness holds the defaults every write gets.
	Freshness Freshness `json:"freshness,omitzero"`
	// origins map key patterns to upstream URLs, for read-through on a
	// miss and for warming. The first origin whose keyPattern matches a key
	// is used. At most MaxOrigins.
	Origins []Origin `json:"origins,omitempty"`
	// warming lists keys to load through the origins when the policy is
	// applied.
	Warming Warming `json:"warming,omitzero"`
	// snapshots says where POST PathSnapshot writes and DELETE removes.
	Snapshots Snapshots `json:"snapshots,omitzero"`
	// bus turns on the invalidation bus over the Redis layer's server, so
	// that a key deleted or invalidated through one agent is dropped from
	// the local tiers of every other agent. It needs layers.redis.
	Bus *Bus `json:"bus,omitempty"`
}

// Layers configures the tiers of the cache.
type Layers struct {
	// memory is the in-process tier (L1). It is always present.
	Memory MemoryLayer `json:"memory,omitzero"`
	// redis is the shared tier (L2); nil means none.
	Redis *RedisLayer `json:"redis,omitempty"`
	// disk is the local persistent tier (L3); nil means none.
	Disk *DiskLayer `json:"disk,omitempty"`
}

// MemoryLayer configures the in-process tier.
type MemoryLayer struct {
	// maxEntries bounds the number of entries. 0 means the memory layer's
	// default (10,000).
	MaxEntries int `json:"maxEntries,omitempty"`
	// maxBytes bounds the estimated bytes of the entries. 0 means no bound
	// by bytes; otherwise at least 176 (the per-entry overhead).
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// ttl overrides freshness.ttl for this tier. 0 means freshness.ttl.
	TTL Duration `json:"ttl,omitempty"`
}

// RedisLayer configures the shared tier.
type RedisLayer struct {
	// addr is the server's host:port.
	Addr string `json:"addr"`
	// username is the ACL user; empty for the default user.
	Username string `json:"username,omitempty"`
	// passwordFile is an absolute path to a file holding the password
	// (a mounted Secret). It is read each time a connection is opened, so
	// a rotated password is picked up without a restart. Empty means no
	// password.
	PasswordFile string `json:"passwordFile,omitempty"`
	// db is the logical database.
	DB int `json:"db,omitempty"`
	// prefix starts every key the agent stores, so that several policies
	// (or applications) can share one Redis; invalidating "all" clears only
	// keys under it. Required.
	Prefix string `json:"prefix"`
	// ttl overrides freshness.ttl for this tier. 0 means freshness.ttl.
	TTL Duration `json:"ttl,omitempty"`
	// compression is the algorithm applied to large entries: "none" (or
	// empty), "gzip", "zstd" or "brotli".
	Compression string `json:"compression,omitempty"`
	// breaker, when set, puts a circuit breaker in front of Redis: while it
	// is open, the agent skips Redis and serves from its local tiers.
	Breaker *Breaker `json:"breaker,omitempty"`
}

// Breaker configures a circuit breaker.
type Breaker struct {
	// consecutiveFailures trips the breaker after this many failures in a
	// row. 0 means 5 when failureRatio is 0, otherwise off.
	ConsecutiveFailures int `json:"consecutiveFailures,omitempty"`
	// failureRatio (0 to 1) trips the breaker when at least this fraction
	// of the calls of the last 10 seconds failed. 0 means off.
	FailureRatio float64 `json:"failureRatio,omitempty"`
	// minRequests is how many calls must have ended in the window before
	// failureRatio applies; only with failureRatio. 0 means 20.
	MinRequests int `json:"minRequests,omitempty"`
	// openFor is how long a tripped breaker refuses calls. 0 means 30s.
	OpenFor Duration `json:"openFor,omitempty"`
	// halfOpenProbes is how many calls a breaker lets through after
	// openFor to decide whether to close. 0 means 1.
	HalfOpenProbes int `json:"halfOpenProbes,omitempty"`
}

// DiskLayer configures the local persistent tier.
type DiskLayer struct {
	// dir is the absolute path of the directory that holds the records (an
	// emptyDir or a persistent volume). One agent at a time may use it.
	Dir string `json:"dir"`
	// maxBytes bounds the total size of the records. 0 means 1 GiB.
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// ttl overrides freshness.ttl for this tier. 0 means freshness.ttl.
	TTL Duration `json:"ttl,omitempty"`
}

// Freshness holds the defaults applied to every write.
type Freshness struct {
	// ttl is how long an entry stays fresh. 0 means it never goes stale.
	TTL Duration `json:"ttl,omitempty"`
	// staleWhileRevalidate is how long after ttl a stale entry is still
	// served while one background fetch replaces it.
	StaleWhileRevalidate Duration `json:"staleWhileRevalidate,omitempty"`
	// staleIfError is how long after ttl a stale entry is served when its
	// origin fails.
	StaleIfError Duration `json:"staleIfError,omitempty"`
	// negativeTTL is how long an origin's 404 is remembered. 0 means it is
	// not.
	NegativeTTL Duration `json:"negativeTTL,omitempty"`
	// jitter lengthens each written TTL by a random amount up to this, so
	// entries written together do not expire together.
	Jitter Duration `json:"jitter,omitempty"`
}

// Origin maps keys to an upstream URL that serves their JSON values.
type Origin struct {
	// keyPattern selects keys: `*` matches any run of characters, `?` one
	// character, `\` escapes the next one. Each wildcard is a capture,
	// numbered from 1 in order.
	KeyPattern string `json:"keyPattern"`
	// urlTemplate is the http or https URL to GET: "{1}", "{2}", ... are
	// replaced by the captures and "{key}" by the whole key, each
	// path-escaped. Example: "http://users.svc/users/{1}" with keyPattern
	// "user:*".
	URLTemplate string `json:"urlTemplate"`
	// timeout bounds one request to the origin. 0 means DefaultOriginTimeout.
	Timeout Duration `json:"timeout,omitempty"`
	// headers are added to every request (for example an API key).
	Headers map[string]string `json:"headers,omitempty"`
	// ttl overrides freshness.ttl for entries loaded from this origin.
	TTL Duration `json:"ttl,omitempty"`
	// tags are attached to entries loaded from this origin.
	Tags []string `json:"tags,omitempty"`
}

// Warming lists keys to load ahead of demand.
type Warming struct {
	// keys are loaded through their origins when the policy is applied
	// (each must match an origin); keys already cached are left alone.
	// At most MaxWarmKeys.
	Keys []string `json:"keys,omitempty"`
	// concurrency is how many keys load at once. 0 means 4.
	Concurrency int `json:"concurrency,omitempty"`
	// readinessGate keeps /readyz failing until the first warm-up since the
	// agent started has finished or timed out.
	ReadinessGate bool `json:"readinessGate,omitempty"`
	// timeout bounds a warm-up; the gate opens when it passes (fail open).
	// 0 means DefaultWarmingTimeout.
	Timeout Duration `json:"timeout,omitempty"`
	// snapshot is the absolute path of a snapshot file (written by POST
	// PathSnapshot) loaded into this agent's local tiers when it starts
	// with empty local tiers, before the keys are warmed. The agent's
	// invalidation watermark becomes the snapshot's, so the operator
	// replays the invalidations that came after it instead of letting
	// the snapshot bring purged entries back. A missing or unreadable file
	// is logged and skipped: the agent starts cold.
	Snapshot string `json:"snapshot,omitempty"`
}

// Snapshots configures POST and DELETE PathSnapshot.
type Snapshots struct {
	// dir is the absolute path of the directory snapshots are written to,
	// as <dir>/<uid>.lcs, and removed from. Empty turns snapshots off.
	Dir string `json:"dir,omitempty"`
}

// Bus configures the invalidation bus.
type Bus struct {
	// channel is the Redis pub/sub channel. Empty means
	// "layercache:bus:" followed by layers.redis.prefix.
	Channel string `json:"channel,omitempty"`
	// secretFile is an absolute path to a file holding the HMAC key that
	// signs messages (at least 32 bytes). Empty means unsigned messages.
	SecretFile string `json:"secretFile,omitempty"`
}
