package agent_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
	"github.com/layercache/layercache/pkg/agent/agenttest"
)

const deleteUID = "7c1e0d2a-5b3c-4d4e-8f50-617283940a1b"

// snapshotDirs is a snapshots directory inside a parent directory the
// agent must never touch.
func snapshotDirs(t *testing.T) (parent, dir string) {
	t.Helper()
	parent = t.TempDir()
	dir = filepath.Join(parent, "snapshots")
	must(t, os.Mkdir(dir, 0o700))
	return parent, dir
}

func TestDeleteSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		// prepare runs against the agent before the delete of uid.
		prepare     func(t *testing.T, r *running, dir string)
		uid         string
		wantRemoved bool
	}{
		{"removes the written file", func(t *testing.T, r *running, _ string) {
			_, err := r.admin.Snapshot(ctx, deleteUID, agentapi.SnapshotRequest{})
			must(t, err)
		}, deleteUID, true},
		{"removes a file the process did not write (a restart on the same volume)", func(t *testing.T, _ *running, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, deleteUID+agent.SnapshotExt), []byte("old"), 0o600))
		}, deleteUID, true},
		{"answers a snapshot that has no file", func(*testing.T, *running, string) {}, deleteUID, false},
		{"answers a second delete", func(t *testing.T, r *running, _ string) {
			_, err := r.admin.Snapshot(ctx, deleteUID, agentapi.SnapshotRequest{})
			must(t, err)
			_, err = r.admin.DeleteSnapshot(ctx, deleteUID)
			must(t, err)
		}, deleteUID, false},
		{"answers when the directory was never created", func(t *testing.T, _ *running, dir string) {
			must(t, os.Remove(dir))
		}, deleteUID, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, dir := snapshotDirs(t)
			r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: dir}}})
			tt.prepare(t, r, dir)
			res, err := r.admin.DeleteSnapshot(ctx, tt.uid)
			want := agentapi.SnapshotDeleteResult{UID: tt.uid, Path: filepath.Join(dir, tt.uid+agent.SnapshotExt), Removed: tt.wantRemoved}
			if err != nil || res != want {
				t.Fatalf("DeleteSnapshot(%q) = %+v, %v; want %+v", tt.uid, res, err, want)
			}
			if _, err := os.Stat(want.Path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("stat %s after the delete: %v; want no file", want.Path, err)
			}
		})
	}
}

// A snapshot written again after its file was deleted is written anew, not
// answered from the agent's memory of a file that is gone.
func TestSnapshotAfterDeleteWritesTheFileAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dir := snapshotDirs(t)
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: dir}}})
	_, err := r.admin.Snapshot(ctx, deleteUID, agentapi.SnapshotRequest{})
	must(t, err)
	_, err = r.admin.DeleteSnapshot(ctx, deleteUID)
	must(t, err)
	again, err := r.admin.Snapshot(ctx, deleteUID, agentapi.SnapshotRequest{})
	if err != nil || again.AlreadyApplied {
		t.Fatalf("Snapshot after delete = %+v, %v; want a new write", again, err)
	}
	if _, err := os.Stat(again.Path); err != nil {
		t.Fatalf("the file written again: %v", err)
	}
}

// No uid reaches a file outside the snapshots directory: bad uids are
// refused with the envelope POST uses, and a link in the directory is
// removed, never what it points to.
func TestDeleteSnapshotStaysInItsDirectory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	parent, dir := snapshotDirs(t)
	outside := filepath.Join(parent, "victim"+agent.SnapshotExt)
	must(t, os.WriteFile(outside, []byte("keep"), 0o600))
	must(t, os.Symlink(outside, filepath.Join(dir, "link"+agent.SnapshotExt)))
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: dir}}})

	tests := []struct {
		uid  string
		want agentapi.ErrorCode
	}{
		{"../victim", agentapi.CodeInvalidRequest},
		{"snapshots/../../victim", agentapi.CodeInvalidRequest},
		{"/etc/passwd", agentapi.CodeInvalidRequest},
		{"UPPER", agentapi.CodeInvalidRequest},
		{"-x", agentapi.CodeInvalidRequest},
		{"a..b", agentapi.CodeInvalidRequest},
		// The mux cleans these paths to another route before the uid is
		// read: no endpoint, no delete.
		{"..", agentapi.CodeNotFound},
		{".", agentapi.CodeNotFound},
	}
	for _, tt := range tests {
		_, err := r.admin.DeleteSnapshot(ctx, tt.uid)
		if code := agentclient.CodeOf(err); code != tt.want {
			t.Errorf("DeleteSnapshot(%q) = %v; want %s", tt.uid, err, tt.want)
		}
	}
	res, err := r.admin.DeleteSnapshot(ctx, "link")
	if err != nil || !res.Removed {
		t.Fatalf("DeleteSnapshot(link) = %+v, %v; want the link removed", res, err)
	}
	if data, err := os.ReadFile(outside); err != nil || string(data) != "keep" {
		t.Fatalf("the file outside the directory: %q, %v; want it untouched", data, err)
	}
}

func TestDeleteSnapshotRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dir := snapshotDirs(t)
	tests := []struct {
		name   string
		policy agentapi.Policy
		uid    string
		want   agentapi.ErrorCode
	}{
		{"snapshots off", agentapi.Policy{}, deleteUID, agentapi.CodeInvalidRequest},
		{"an empty uid", agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: dir}}, "", agentapi.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := startAgent(t, agent.Options{Policy: &tt.policy})
			_, err := r.admin.DeleteSnapshot(ctx, tt.uid)
			mustCode(t, err, tt.want)
		})
	}
}

// DELETE is guarded like POST: the admin API's client certificate and
// Options.AuthorizeAdmin.
func TestDeleteSnapshotNeedsTheOperatorsCertificate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dir := snapshotDirs(t)
	file := filepath.Join(dir, deleteUID+agent.SnapshotExt)
	r := startAgent(t, agent.Options{
		Policy: &agentapi.Policy{Snapshots: agentapi.Snapshots{Dir: dir}},
		AuthorizeAdmin: func(c *x509.Certificate) error {
			for _, u := range c.URIs {
				if u.String() == agenttest.OperatorURI {
					return nil
				}
			}
			return errors.New("not the operator")
		},
	})
	app := r.pki.CA.Issue(t, "app", x509.ExtKeyUsageClientAuth, nil, []*url.URL{{Scheme: "spiffe", Host: "layercache", Path: "/app"}})
	noCert := r.clientTLS()
	noCert.Certificates = nil
	tests := []struct {
		name string
		cfg  func() *agentclient.Admin
		// want is the agent's error code; "" with refused set means the
		// TLS handshake fails before any answer.
		want    agentapi.ErrorCode
		refused bool
	}{
		{"another client of the CA", func() *agentclient.Admin {
			return agentclient.NewAdmin(r.adminAddr, agentclient.TLSConfig(r.pki.CA.Pool, app), nil)
		}, agentapi.CodeForbidden, true},
		{"no client certificate", func() *agentclient.Admin {
			return agentclient.NewAdmin(r.adminAddr, noCert, nil)
		}, "", true},
		{"plain HTTP", func() *agentclient.Admin {
			return agentclient.NewAdmin(r.adminAddr, nil, nil)
		}, "", true},
		{"the operator", func() *agentclient.Admin {
			return agentclient.NewAdmin(r.adminAddr, r.clientTLS(), nil)
		}, "", false},
	}
	// The refusals run first, against a file that is there; the operator
	// last removes it.
	must(t, os.WriteFile(file, []byte("snap"), 0o600))
	for _, tt := range tests {
		c := tt.cfg()
		res, err := c.DeleteSnapshot(ctx, deleteUID)
		c.Close()
		switch {
		case tt.refused && (err == nil || agentclient.CodeOf(err) != tt.want):
			t.Errorf("%s: DeleteSnapshot = %+v, %v; want refused (code %q)", tt.name, res, err, tt.want)
		case !tt.refused && (err != nil || !res.Removed):
			t.Errorf("%s: DeleteSnapshot = %+v, %v; want the file removed", tt.name, res, err)
		}
		_, statErr := os.Stat(file)
		if exists := statErr == nil; exists != tt.refused {
			t.Errorf("%s: file exists %v after the call; want %v", tt.name, exists, tt.refused)
		}
	}
}
