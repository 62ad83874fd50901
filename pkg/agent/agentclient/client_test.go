package agentclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
	"github.com/layercache/layercache/pkg/agent/agenttest"
)

// serve starts a real agent with mutual TLS and returns clients of its
// data and admin APIs; everything stops when t ends.
func serve(t *testing.T, p agentapi.Policy) (*agentclient.Data, *agentclient.Admin) {
	t.Helper()
	pki := agenttest.NewPKI(t)
	ra := agenttest.Start(t, agent.Options{Policy: &p, AdminTLS: pki.Server})
	data := agentclient.NewData(ra.DataAddr, nil)
	admin := agentclient.NewAdmin(ra.AdminAddr, agentclient.TLSConfig(pki.CA.Pool, pki.ClientCert), nil)
	t.Cleanup(data.Close)
	t.Cleanup(admin.Close)
	return data, admin
}

func TestDataClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	data, _ := serve(t, agentapi.Policy{})
	if err := data.Set(ctx, "user:1", json.RawMessage(`{"name":"Ada"}`), agentclient.SetOptions{
		TTL: time.Minute, Tags: []string{"users", "eu"}}); err != nil {
		t.Fatal(err)
	}
	v, err := data.Get(ctx, "user:1")
	if err != nil || string(v.JSON) != `{"name":"Ada"}` || v.Cache != agentapi.CacheHit {
		t.Fatalf("Get = %+v, %v", v, err)
	}
	n, err := data.SetMany(ctx, agentapi.BulkSetRequest{Items: []agentapi.BulkItem{
		{Key: "user:2", Value: json.RawMessage(`2`)}, {Key: "order:1", Value: json.RawMessage(`"o"`)}},
		Tags: []string{"users"}})
	if err != nil || n != 2 {
		t.Fatalf("SetMany = %d, %v", n, err)
	}
	many, err := data.GetMany(ctx, []string{"user:1", "user:2", "nope"})
	if err != nil || len(many.Values) != 2 || strings.Join(many.Missing, ",") != "nope" {
		t.Fatalf("GetMany = %+v, %v", many, err)
	}
	if n, err := data.InvalidateTags(ctx, []string{"users", "eu"}, agentapi.MatchAll); err != nil || n != 1 {
		t.Fatalf("InvalidateTags(all of users, eu) = %d, %v; want 1", n, err)
	}
	if n, err := data.Invalidate(ctx, agentapi.InvalidationTarget{Patterns: []string{"*:?"}}); err != nil || n != 2 {
		t.Fatalf("Invalidate(pattern) = %d, %v; want 2", n, err)
	}
	if err := data.Set(ctx, "gone", json.RawMessage(`true`), agentclient.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := data.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	_, err = data.Get(ctx, "gone")
	var e *agentclient.Error
	if !agentclient.IsNotFound(err) || !errors.As(err, &e) || e.StatusCode != 404 {
		t.Fatalf("Get(deleted) = %v; want a 404 NotFound *Error", err)
	}
	err = data.Set(ctx, "k", json.RawMessage(`{oops`), agentclient.SetOptions{})
	if agentclient.CodeOf(err) != agentapi.CodeBadRequest {
		t.Fatalf("Set(invalid JSON) = %v; want BadRequest", err)
	}
}

func TestAdminClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	data, admin := serve(t, agentapi.Policy{Generation: 1, Snapshots: agentapi.Snapshots{Dir: dir}})
	st, err := admin.Status(ctx)
	if err != nil || st.PolicyGeneration != 1 || !st.Ready || st.SessionID == "" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	res, err := admin.ApplyPolicy(ctx, agentapi.Policy{Generation: 2, Snapshots: agentapi.Snapshots{Dir: dir},
		Freshness: agentapi.Freshness{TTL: agentapi.Duration(time.Hour)}})
	if err != nil || !res.Changed || res.Generation != 2 {
		t.Fatalf("ApplyPolicy = %+v, %v", res, err)
	}
	_, err = admin.ApplyPolicy(ctx, agentapi.Policy{Generation: 1})
	if agentclient.CodeOf(err) != agentapi.CodeStaleGeneration {
		t.Fatalf("ApplyPolicy(older) = %v; want StaleGeneration", err)
	}
	if err := data.Set(ctx, "a", json.RawMessage(`1`), agentclient.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	inv, err := admin.Invalidate(ctx, "inv-1", agentapi.InvalidationRequest{Seq: 1, Layers: agentapi.LayersLocal,
		Target: agentapi.InvalidationTarget{Keys: []string{"zzz"}}})
	if err != nil || inv.UID != "inv-1" || inv.Seq != 1 {
		t.Fatalf("Invalidate = %+v, %v", inv, err)
	}
	snap, err := admin.Snapshot(ctx, "snap-1", agentapi.SnapshotRequest{})
	if err != nil || snap.Entries != 1 || snap.Watermark != 1 || snap.Path != filepath.Join(dir, "snap-1.lcs") {
		t.Fatalf("Snapshot = %+v, %v", snap, err)
	}
	del, err := admin.DeleteSnapshot(ctx, "snap-1")
	if err != nil || !del.Removed || del.Path != snap.Path {
		t.Fatalf("DeleteSnapshot = %+v, %v; want %s removed", del, err, snap.Path)
	}
}
