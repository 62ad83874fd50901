package agent_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/memory"
)

func TestSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "snapshots")
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: dir}}})
	for _, k := range []string{"a", "b", "c"} {
		must(t, r.data.Set(ctx, k, raw(`{"v":"`+k+`"}`), agentclient.SetOptions{TTL: time.Hour, Tags: []string{"t"}}))
	}
	invalidateThrough(t, r, 3)
	if _, err := r.admin.Invalidate(ctx, "before-snapshot", agentapi.InvalidationRequest{Seq: 4,
		Layers: agentapi.LayersLocal, Target: agentapi.InvalidationTarget{Keys: []string{"c"}}}); err != nil {
		t.Fatal(err)
	}
	const uid = "0b6d5c2a-1111-4222-8333-444455556666"
	res, err := r.admin.Snapshot(ctx, uid, agentapi.SnapshotRequest{})
	if err != nil {
		t.Fatal(err)
	}
	wantPath := filepath.Join(dir, uid+agent.SnapshotExt)
	if res.Path != wantPath || res.Entries != 2 || res.Watermark != 4 || res.Bytes == 0 || res.Checksum == "" {
		t.Fatalf("Snapshot = %+v; want 2 entries at %s with watermark 4", res, wantPath)
	}
	if fi, err := os.Stat(wantPath); err != nil || fi.Size() != res.Bytes {
		t.Fatalf("snapshot file: %v (size %v); want %d bytes", err, fi, res.Bytes)
	}
	again, err := r.admin.Snapshot(ctx, uid, agentapi.SnapshotRequest{})
	if err != nil || !again.AlreadyApplied || again.Checksum != res.Checksum {
		t.Fatalf("repeated Snapshot = %+v, %v; want the recorded result", again, err)
	}

	// The file restores into a fresh cache, with its watermark.
	mem, err := memory.New(memory.Options{})
	must(t, err)
	s, err := cache.New(ctx, []cache.Layer{mem}, cache.Options{})
	must(t, err)
	t.Cleanup(func() { _ = s.Close(ctx) })
	view := cache.Typed[json.RawMessage](s)
	info, err := view.RestoreFile(ctx, wantPath, cache.RestoreOptions{})
	if err != nil || info.Restored != 2 || info.Watermark != 4 {
		t.Fatalf("RestoreFile = %+v, %v; want 2 entries, watermark 4", info, err)
	}
	if v, err := view.Get(ctx, "b", nil); err != nil || string(v) != `{"v":"b"}` {
		t.Fatalf("restored b = %s, %v", v, err)
	}

	for _, uid := range []string{"../escape", "a/b", "UPPER", "..", "-x"} {
		_, err := r.admin.Snapshot(ctx, uid, agentapi.SnapshotRequest{})
		if code := agentclient.CodeOf(err); code != agentapi.CodeInvalidRequest && code != agentapi.CodeNotFound {
			t.Errorf("Snapshot(%q): %v; want it refused", uid, err)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil || len(entries) != 1 {
		t.Fatalf("files next to the snapshot dir: %v, %v; want only the dir", entries, err)
	}
}

func TestSnapshotNeedsADirectory(t *testing.T) {
	t.Parallel()
	r := startAgent(t, agent.Options{})
	_, err := r.admin.Snapshot(context.Background(), "s1", agentapi.SnapshotRequest{})
	mustCode(t, err, agentapi.CodeInvalidRequest)
}
