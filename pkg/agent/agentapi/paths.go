package agentapi

import (
	"net/url"
	"strings"
)

// Default listen addresses and their ports.
const (
	// DataPort is the port of the data API.
	DataPort = 7070
	// AdminPort is the port of the admin API.
	AdminPort = 7443
	// ProbePort is the port of the probes and metrics.
	ProbePort = 7080

	// DefaultDataAddr is where the data API listens: loopback only, for the
	// application in the same pod.
	DefaultDataAddr = "127.0.0.1:7070"
	// DefaultAdminAddr is where the admin API listens, for the operator.
	DefaultAdminAddr = "0.0.0.0:7443"
	// DefaultProbeAddr is where the probes and /metrics listen, for the
	// kubelet and Prometheus.
	DefaultProbeAddr = "0.0.0.0:7080"
)

// Paths of the data API. Path values in braces are http.ServeMux wildcards.
const (
	// PathKey is one key: GET reads it (read-through via the policy's
	// origins), PUT writes it (query parameters QueryTTL and QueryTags),
	// DELETE removes it. The key is one path segment: build the path with
	// KeyPath, which escapes it.
	PathKey = "/v1/keys/{key}"
	// PathKeys is the bulk endpoint: POST reads many keys
	// (BulkGetRequest), PUT writes many (BulkSetRequest).
	PathKeys = "/v1/keys"
	// PathTagsInvalidate removes the entries carrying tags
	// (TagInvalidateRequest), from every layer.
	PathTagsInvalidate = "/v1/tags/invalidate"
	// PathInvalidate removes entries by tags, keys, prefixes, patterns or
	// all of them (InvalidationTarget), from every layer.
	PathInvalidate = "/v1/invalidate"
)

// Query parameters of PUT PathKey.
const (
	// QueryTTL is the entry's fresh TTL as a Go duration ("30s").
	QueryTTL = "ttl"
	// QueryTags is a comma-separated list of tags.
	QueryTags = "tags"
)

// HeaderCache is the response header of GET PathKey that says where the
// value came from: CacheHit, CacheMiss or CacheStale.
const HeaderCache = "X-Cache"

// Values of HeaderCache.
const (
	// CacheHit: served fresh from a cache layer.
	CacheHit = "HIT"
	// CacheMiss: loaded from an origin for this request (or by a request
	// it waited for).
	CacheMiss = "MISS"
	// CacheStale: served from a stale window (stale-while-revalidate or
	// stale-if-error).
	CacheStale = "STALE"
)

// Paths of the admin API.
const (
	// PathStatus reports the agent's state (GET, Status).
	PathStatus = "/v1/status"
	// PathPolicy applies a policy (PUT, Policy -> PolicyResult).
	PathPolicy = "/v1/policy"
	// PathInvalidation applies an invalidation, idempotent by uid (POST,
	// InvalidationRequest -> InvalidationResult).
	PathInvalidation = "/v1/invalidations/{uid}"
	// PathSnapshot is the snapshot named by uid: POST writes it
	// (SnapshotRequest -> SnapshotResult), DELETE removes its file, and
	// succeeds when there is none (no body -> SnapshotDeleteResult).
	PathSnapshot = "/v1/snapshots/{uid}"
	// PathSync confirms that an agent restored from a snapshot has every
	// invalidation of its policy (POST, SyncRequest -> SyncResult).
	PathSync = "/v1/sync"
)

// Paths of the probe server.
const (
	// PathHealthz answers 200 while the process serves.
	PathHealthz = "/healthz"
	// PathReadyz answers 200 when the agent is ready for traffic (a policy
	// is applied; with Warming.ReadinessGate, the first warm-up has finished
	// or timed out; after a restore from Warming.Snapshot, the operator has
	// confirmed the invalidations since it (PathSync) or the warming
	// timeout has passed), 503 otherwise.
	PathReadyz = "/readyz"
	// PathMetrics serves Prometheus text exposition.
	PathMetrics = "/metrics"
)

// KeyPath returns the path of key under PathKey, escaped so that any valid
// key (slashes included) is one path segment.
func KeyPath(key string) string {
	return "/v1/keys/" + url.PathEscape(key)
}

// InvalidationPath returns the path of the invalidation uid.
func InvalidationPath(uid string) string {
	return "/v1/invalidations/" + url.PathEscape(uid)
}

// SnapshotPath returns the path of the snapshot uid.
func SnapshotPath(uid string) string {
	return "/v1/snapshots/" + url.PathEscape(uid)
}

// Build returns the URL scheme://host + path, where host may carry a port
// ("10.0.0.7:7443"). It is how clients build every request URL from the
// constants of this package.
func Build(scheme, host, path string) string {
	return scheme + "://" + strings.TrimSuffix(host, "/") + path
}
