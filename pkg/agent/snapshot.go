package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
)

// invalidSnapshot is the refusal of a snapshot request (POST or DELETE)
// for the reason msg about field.
func invalidSnapshot(field, msg string) error {
	return &agentapi.ValidationError{What: "snapshot", Errors: []agentapi.FieldError{{Field: field, Message: msg}}}
}

// snapshotsDir is the snapshots directory of rt's policy, or the refusal
// of a snapshot request when the policy has none.
func snapshotsDir(rt *runtime) (string, error) {
	if dir := rt.policy.Snapshots.Dir; dir != "" {
		return dir, nil
	}
	return "", invalidSnapshot("snapshots.dir", "is not set in the applied policy: snapshots are off")
}

// DefaultRememberedSnapshots is how many snapshot uids the agent
// remembers, to answer a repeated one with AlreadyApplied.
const DefaultRememberedSnapshots = 1_000

// SnapshotExt is the extension of snapshot files.
const SnapshotExt = ".lcs"

// snapshotLog remembers the snapshots written by this process.
type snapshotLog = boundedLog[agentapi.SnapshotResult]

func newSnapshotLog(limit int) *snapshotLog { return newBoundedLog[agentapi.SnapshotResult](limit) }

// takeSnapshot writes the snapshot uid to <snapshots.dir>/<uid>.lcs with
// the current invalidation watermark. The uid is a DNS-1123-style name, so
// the file cannot land outside the directory. A uid this process has
// already written returns the recorded result. Snapshots and invalidations
// run one at a time, so the watermark is exact. It is contiguous: the
// entries may also reflect invalidations applied above it, which an agent
// restored from the file gets replayed again (removing entries twice is
// harmless; a hole under the watermark would not be).
func (a *Agent) takeSnapshot(ctx context.Context, uid string, req agentapi.SnapshotRequest) (agentapi.SnapshotResult, error) {
	if err := agentapi.ValidateUID(uid); err != nil {
		return agentapi.SnapshotResult{}, invalidSnapshot("uid", err.Error())
	}
	if req.UID != "" && req.UID != uid {
		return agentapi.SnapshotResult{}, invalidSnapshot("uid", fmt.Sprintf("is %q but the path says %q", req.UID, uid))
	}
	if err := req.Validate(); err != nil {
		return agentapi.SnapshotResult{}, err
	}
	a.opsMu.Lock()
	defer a.opsMu.Unlock()
	if res, ok := a.snaps.lookup(uid); ok {
		res.AlreadyApplied = true
		return res, nil
	}
	rt, leave := a.acquire()
	defer leave()
	if rt == nil {
		return agentapi.SnapshotResult{}, ErrNotRunning
	}
	dir, err := snapshotsDir(rt)
	if err != nil {
		return agentapi.SnapshotResult{}, err
	}
	path := filepath.Join(dir, uid+SnapshotExt)
	if filepath.Dir(path) != dir {
		return agentapi.SnapshotResult{}, invalidSnapshot("uid", "does not name a file in snapshots.dir")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return agentapi.SnapshotResult{}, fmt.Errorf("agent: snapshot: %w", err)
	}
	// Best effort: leftovers of killed writes must not fill the volume,
	// but failing to remove one is no reason to refuse this snapshot.
	if n, err := removeStaleSnapshotTemps(dir, time.Now()); n > 0 || err != nil {
		a.log.Info("removed temporary files of interrupted snapshot writes", "dir", dir, "removed", n, "error", err)
	}
	watermark := a.inval.watermark()
	opts := cache.SnapshotOptions{Watermark: uint64(watermark)}
	var info cache.SnapshotInfo
	if req.Layers == agentapi.LayersAll {
		info, err = rt.stack.SnapshotFile(ctx, path, opts)
	} else {
		info, err = snapshotLocal(ctx, rt, path, opts)
	}
	if err != nil {
		return agentapi.SnapshotResult{}, err
	}
	res := agentapi.SnapshotResult{UID: uid, Path: path, Entries: info.Entries, Bytes: info.Bytes,
		Checksum: info.Checksum, Watermark: watermark, Created: info.Created}
	a.snaps.record(uid, res)
	a.log.Info("snapshot written", "uid", uid, "path", path, "entries", info.Entries, "bytes", info.Bytes)
	return res, nil
}

// snapshotLocal snapshots the local tiers only, through a Stack of their
// own (borrowed layers: closing it leaves them open) with the codec of
// every agent Stack (JSON).
func snapshotLocal(ctx context.Context, rt *runtime, path string, opts cache.SnapshotOptions) (cache.SnapshotInfo, error) {
	var layers []cache.Layer
	for _, l := range rt.localLayers() {
		layers = append(layers, borrowed{l})
	}
	s, err := cache.New(ctx, layers, cache.Options{})
	if err != nil {
		return cache.SnapshotInfo{}, fmt.Errorf("agent: snapshot: %w", err)
	}
	info, err := s.SnapshotFile(ctx, path, opts)
	return info, errors.Join(err, s.Close(context.WithoutCancel(ctx)))
}
