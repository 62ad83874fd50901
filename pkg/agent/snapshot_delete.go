package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// deleteSnapshot removes the file of the snapshot uid,
// <snapshots.dir>/<uid>.lcs of the applied policy. A missing file (or
// directory) is not an error: the result says nothing was removed, so the
// operator may ask again after a lost answer.
//
// It takes opsMu, as takeSnapshot does, so a delete that arrives while the
// same uid is being written waits for the write and then removes the
// finished file: it can neither miss a file renamed into place after it
// looked nor leave one behind. The writer's temporary file is not named
// after the uid and is removed by the writer itself on failure, so there
// is none to remove here.
//
// The uid is checked like POST's (a DNS-1123-style name holds no path
// separator and cannot be "." or ".."), and the file is removed through an
// os.Root opened on the directory, which refuses any name that would
// resolve outside it.
func (a *Agent) deleteSnapshot(uid string) (agentapi.SnapshotDeleteResult, error) {
	if err := agentapi.ValidateUID(uid); err != nil {
		return agentapi.SnapshotDeleteResult{}, invalidSnapshot("uid", err.Error())
	}
	a.opsMu.Lock()
	defer a.opsMu.Unlock()
	rt, leave := a.acquire()
	defer leave()
	if rt == nil {
		return agentapi.SnapshotDeleteResult{}, ErrNotRunning
	}
	dir, err := snapshotsDir(rt)
	if err != nil {
		return agentapi.SnapshotDeleteResult{}, err
	}
	name := uid + SnapshotExt
	res := agentapi.SnapshotDeleteResult{UID: uid, Path: filepath.Join(dir, name)}
	removed, err := removeIn(dir, name)
	if err != nil {
		return agentapi.SnapshotDeleteResult{}, fmt.Errorf("agent: delete snapshot %s: %w", uid, err)
	}
	res.Removed = removed
	// A repeated POST of the uid must write the file again, not answer
	// with the recorded result of a file that is gone.
	a.snaps.forget(func(r agentapi.SnapshotResult) bool { return r.UID == uid })
	if removed {
		a.log.Info("snapshot removed", "uid", uid, "path", res.Path)
	}
	return res, nil
}

// removeIn removes the file name from dir, confined to dir, and reports
// whether there was one to remove.
func removeIn(dir, name string) (bool, error) {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer func() { _ = root.Close() }() // read-only handle: nothing to flush
	err = root.Remove(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
