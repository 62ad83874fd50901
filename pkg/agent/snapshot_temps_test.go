package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
)

// A snapshot write killed midway leaves its temporary file on a volume
// that outlives the process: the next snapshot removes such files once
// they are old, and leaves young ones alone (another agent sharing the
// volume may be writing one) as well as every other file.
func TestSnapshotRemovesTemporaryFilesOfInterruptedWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	files := map[string]time.Time{
		cache.SnapshotTempPrefix + "killed":                        old,        // removed
		cache.SnapshotTempPrefix + "writing":                       time.Now(), // kept: may be in progress
		"0b6d5c2a-1111-4222-8333-444455556666" + agent.SnapshotExt: old,        // kept: a snapshot
		"notes.txt": old, // kept: not ours
	}
	for name, mtime := range files {
		path := filepath.Join(dir, name)
		must(t, os.WriteFile(path, []byte("x"), 0o600))
		must(t, os.Chtimes(path, mtime, mtime))
	}
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: dir}}})
	if _, err := r.admin.Snapshot(context.Background(), "0b6d5c2a-2222-4222-8333-444455556666", agentapi.SnapshotRequest{}); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone, want := errors.Is(err, os.ErrNotExist), name == cache.SnapshotTempPrefix+"killed"; gone != want {
			t.Errorf("%s removed = %v (%v); want %v", name, gone, err, want)
		}
	}
}
