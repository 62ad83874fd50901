package agent

import (
	"context"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
)

// restoreSnapshot loads the policy's warming snapshot into rt's local tiers
// (memory, disk; never the shared Redis tier, which other agents keep
// current) when they are empty, that is when the agent starts without a
// disk tier left over from an earlier run. The invalidation watermark then
// becomes the snapshot's, so the operator replays what came after it, and
// readiness waits for the operator to confirm it has (syncGate), at most
// the policy's warming timeout. Any failure leaves the agent cold, never
// half-restored with a wrong watermark.
func (a *Agent) restoreSnapshot(ctx context.Context, rt *runtime) {
	path := rt.policy.Warming.Snapshot
	if path == "" {
		return
	}
	if !a.inval.localTiersEmpty() {
		a.log.Warn("warming snapshot not loaded: the local tiers already hold entries from an earlier run", "path", path)
		return
	}
	var names []string
	for _, l := range rt.localLayers() {
		names = append(names, l.Info().Name)
	}
	info, err := rt.view.RestoreFile(ctx, path, cache.RestoreOptions{Layers: names})
	if err != nil {
		a.log.Warn("warming snapshot not loaded; starting cold", "path", path, "error", err)
		return
	}
	if ok, err := a.inval.restoredSnapshot(int64(info.Watermark)); !ok || err != nil {
		a.log.Warn("warming snapshot loaded but its watermark not recorded", "path", path, "error", err)
		return
	}
	timeout := rt.policy.Warming.Timeout.Std()
	if timeout == 0 {
		timeout = agentapi.DefaultWarmingTimeout
	}
	a.synced.hold(timeout, func() {
		a.log.Warn("the operator has not confirmed the invalidations since the warming snapshot; ready anyway after the warming timeout",
			"path", path, "watermark", a.inval.watermark(), "timeout", timeout)
	})
	a.log.Info("warming snapshot loaded; ready once the operator confirms the invalidations since it",
		"path", path, "entries", info.Restored, "watermark", info.Watermark)
}
