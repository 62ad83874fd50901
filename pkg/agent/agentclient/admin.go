package agentclient

import (
	"context"
	"crypto/tls"
	"net/http"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// Admin is a client of the admin API.
type Admin struct {
	conn
}

// NewAdmin returns a client of the admin API at host ("10.1.2.3:7443").
// It speaks HTTPS with tlsConfig (see TLSConfig); a nil tlsConfig means
// plain HTTP, for an agent started with InsecureAdmin. With hc non-nil, hc
// is used as is and tlsConfig only picks the scheme.
func NewAdmin(host string, tlsConfig *tls.Config, hc *http.Client) *Admin {
	scheme := "https"
	if tlsConfig == nil {
		scheme = "http"
	}
	return &Admin{conn: newConn(scheme, host, hc, tlsConfig)}
}

// Status returns the agent's status.
func (c *Admin) Status(ctx context.Context) (agentapi.Status, error) {
	return call[agentapi.Status](ctx, &c.conn, http.MethodGet, agentapi.PathStatus, nil)
}

// ApplyPolicy pushes p. An older generation fails with
// agentapi.CodeStaleGeneration (409), an invalid or unbuildable policy
// with agentapi.CodeInvalidPolicy (422); the agent keeps its policy then.
func (c *Admin) ApplyPolicy(ctx context.Context, p agentapi.Policy) (agentapi.PolicyResult, error) {
	return call[agentapi.PolicyResult](ctx, &c.conn, http.MethodPut, agentapi.PathPolicy, p)
}

// Invalidate applies the invalidation uid (idempotent by uid).
func (c *Admin) Invalidate(ctx context.Context, uid string, req agentapi.InvalidationRequest) (agentapi.InvalidationResult, error) {
	return call[agentapi.InvalidationResult](ctx, &c.conn, http.MethodPost, agentapi.InvalidationPath(uid), req)
}

// Snapshot writes the snapshot uid on the agent.
func (c *Admin) Snapshot(ctx context.Context, uid string, req agentapi.SnapshotRequest) (agentapi.SnapshotResult, error) {
	return call[agentapi.SnapshotResult](ctx, &c.conn, http.MethodPost, agentapi.SnapshotPath(uid), req)
}

// DeleteSnapshot removes the file of the snapshot uid from the agent. A
// snapshot with no file succeeds too, with Removed false; an invalid uid
// or an agent without a snapshots directory fails with
// agentapi.CodeInvalidRequest (422).
func (c *Admin) DeleteSnapshot(ctx context.Context, uid string) (agentapi.SnapshotDeleteResult, error) {
	return call[agentapi.SnapshotDeleteResult](ctx, &c.conn, http.MethodDelete, agentapi.SnapshotPath(uid), nil)
}

// Sync tells an agent restored from a snapshot that req.LastSequence is the
// policy's last invalidation; it becomes ready if its watermark has reached
// it (see agentapi.Status.AwaitingSync).
func (c *Admin) Sync(ctx context.Context, req agentapi.SyncRequest) (agentapi.SyncResult, error) {
	return call[agentapi.SyncResult](ctx, &c.conn, http.MethodPost, agentapi.PathSync, req)
}
