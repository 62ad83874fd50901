package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

// policyWithSnapshots is the e2e policy with a snapshots directory shared
// by the agents (a shared volume in a cluster) and, when from is set,
// agents that start cold load that CacheSnapshot first.
func (f *fleet) policyWithSnapshots(dir, from string) string {
	extra := fmt.Sprintf("  snapshots:\n    path: %q\n", dir)
	if from != "" {
		extra += fmt.Sprintf("  warming:\n    fromSnapshot:\n      name: %s\n", from)
	}
	return f.policyYAML("10m", extra)
}

// A snapshot restored by a new agent (warming from it) does not bring back
// entries an invalidation removed after the snapshot was taken: the agent
// reports the snapshot's watermark and the operator replays what came after.
func TestSnapshotRestoreDoesNotResurrectInvalidatedKeys(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, 2, 1)
	dir := filepath.Join(cp.Dir, f.ns, "snapshots")
	kubectl(t, f.policyWithSnapshots(dir, ""), "apply", "-n", f.ns, "-f", "-")
	waitRow(t, f.ns, "cpol", policy, map[string]string{"SYNCED": "1/1", "READY": "True"})

	src := f.agents[0]
	for k, tags := range map[string][]string{"price:1": {"sale"}, "price:2": {"regular"}} {
		if err := src.Data.Set(ctx, k, json.RawMessage(`"`+k+`"`), agentclient.SetOptions{Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}
	kubectl(t, `apiVersion: cache.layercache.io/v1alpha1
kind: CacheSnapshot
metadata:
  name: before-sale-ends
spec:
  policyRef:
    name: `+policy+"\n", "create", "-n", f.ns, "-f", "-")
	kubectl(t, "", "wait", "-n", f.ns, "--for=condition=Complete", "csnap/before-sale-ends", "--timeout=90s")

	// After the snapshot: the sale ends, and price:2 leaves Redis (it
	// expired there, say), so only the snapshot can serve it.
	kubectl(t, invalidation("sale-ends", "sale", 5, 3), "create", "-n", f.ns, "-f", "-")
	kubectl(t, "", "wait", "-n", f.ns, "--for=condition=Complete", "cinv/sale-ends", "--timeout=90s")
	if err := f.redis.NewClient(t).Del(ctx, f.prefix+"price:2").Err(); err != nil {
		t.Fatal(err)
	}

	// A new pod starts with the policy's bootstrap file, which now names
	// the snapshot.
	kubectl(t, f.policyWithSnapshots(dir, "before-sale-ends"), "apply", "-n", f.ns, "-f", "-")
	late := f.agents[1]
	err := Poll(ctx, wait, func() error {
		var cm corev1.ConfigMap
		if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: v1alpha1.BootstrapConfigMapName(policy)}, &cm); err != nil {
			return err
		}
		var boot struct {
			Warming struct{ Snapshot string } `json:"warming"`
		}
		if err := json.Unmarshal([]byte(cm.Data[v1alpha1.BootstrapKey]), &boot); err != nil || boot.Warming.Snapshot == "" {
			return fmt.Errorf("bootstrap policy names no snapshot yet (%v)", err)
		}
		late.Bootstrap = filepath.Join(late.Dir, "policy.json")
		return os.WriteFile(late.Bootstrap, []byte(cm.Data[v1alpha1.BootstrapKey]), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := late.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cp.Register(ctx, late, f.labels); err != nil {
		t.Fatal(err)
	}
	seq := getInvalidation(t, f.ns, "sale-ends").Status.Sequence
	err = Poll(ctx, wait, func() error {
		st, err := agentStatus(ctx, late)
		if err != nil {
			return err
		}
		if st.LastInvalidationSeq != seq {
			return fmt.Errorf("the restored agent's watermark is %d, want %d once caught up", st.LastInvalidationSeq, seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Caught up, the operator confirms it, and only then is it ready.
	err = Poll(ctx, wait, func() error {
		st, err := agentStatus(ctx, late)
		if err != nil {
			return err
		}
		if st.AwaitingSync || !st.Ready {
			return fmt.Errorf("the restored agent: awaitingSync %v, ready %v; want the operator's confirmation", st.AwaitingSync, st.Ready)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitRow(t, f.ns, "cpol", policy, map[string]string{"SYNCED": "2/2", "READY": "True"})

	if v, err := late.Data.Get(ctx, "price:2"); err != nil {
		t.Fatalf("the restored agent does not serve price:2, which only the snapshot holds: %v", err)
	} else if string(v.JSON) != `"price:2"` {
		t.Fatalf("restored price:2 = %s", v.JSON)
	}
	if v, err := late.Data.Get(ctx, "price:1"); !agentclient.IsNotFound(err) {
		t.Fatalf("the restored agent serves price:1 (%s, %v), which an invalidation removed after the snapshot: resurrected", v.JSON, err)
	}

	// Done with the snapshot: kubectl delete (which waits for the
	// finalizer) takes its file off the volume too.
	kubectl(t, f.policyWithSnapshots(dir, ""), "apply", "-n", f.ns, "-f", "-")
	var snap v1alpha1.CacheSnapshot
	if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "before-sale-ends"}, &snap); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snap.Status.Path); err != nil {
		t.Fatalf("the snapshot file before the delete: %v", err)
	}
	kubectl(t, "", "delete", "-n", f.ns, "csnap/before-sale-ends", "--timeout=90s")
	if _, err := os.Stat(snap.Status.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the file of the deleted snapshot, %s: %v; want it removed", snap.Status.Path, err)
	}
}
