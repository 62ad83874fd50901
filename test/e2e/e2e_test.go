package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

// invalidation is a CacheInvalidation of the e2e policy by tag.
func invalidation(name, tag string, perPodTimeout, backoffLimit int) string {
	return fmt.Sprintf(`apiVersion: cache.layercache.io/v1alpha1
kind: CacheInvalidation
metadata:
  name: %s
spec:
  policyRef:
    name: %s
  target:
    tags:
      values: [%q]
  perPodTimeoutSeconds: %d
  backoffLimit: %d
  activeDeadlineSeconds: 150
`, name, policy, tag, perPodTimeout, backoffLimit)
}

func getPolicy(t *testing.T, ns string) *v1alpha1.CachePolicy {
	t.Helper()
	var p v1alpha1.CachePolicy
	if err := cp.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: policy}, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func getInvalidation(t *testing.T, ns, name string) *v1alpha1.CacheInvalidation {
	t.Helper()
	var inv v1alpha1.CacheInvalidation
	if err := cp.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &inv); err != nil {
		t.Fatal(err)
	}
	return &inv
}

// agentStatus is what the agent says about itself on its admin API.
func agentStatus(ctx context.Context, a *Agent) (agentapi.Status, error) {
	admin, err := cp.AdminClient(ctx, a)
	if err != nil {
		return agentapi.Status{}, err
	}
	return admin.Status(ctx)
}

// waitAgentsRun waits until every agent runs the policy's current
// generation and hash, by their own account.
func waitAgentsRun(t *testing.T, agents []*Agent, p *v1alpha1.CachePolicy) {
	t.Helper()
	ctx := context.Background()
	for _, a := range agents {
		err := Poll(ctx, wait, func() error {
			st, err := agentStatus(ctx, a)
			if err != nil {
				return err
			}
			if st.PolicyGeneration != p.Generation || st.PolicyHash != p.Status.PolicyHash {
				return fmt.Errorf("agent %s runs generation %d hash %q, want %d %q", a.Name, st.PolicyGeneration, st.PolicyHash, p.Generation, p.Status.PolicyHash)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A policy reaches every agent, a TTL change rolls out to all of them, and
// an invalidation by tag removes exactly the tagged keys from every agent's
// memory tier and from the shared Redis.
func TestPolicyRolloutAndInvalidationByTag(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, 4, 4)

	t.Run("apply: every agent synced", func(t *testing.T) {
		got := waitRow(t, f.ns, "cpol", policy, map[string]string{"SYNCED": "4/4", "READY": "True", "DEGRADED": ""})
		if got["AGE"] == "" {
			t.Errorf("kubectl get cpol shows no AGE: %v", got)
		}
		p := getPolicy(t, f.ns)
		if p.Status.PolicyHash == "" {
			t.Fatalf("status.policyHash is empty: %+v", p.Status)
		}
		waitAgentsRun(t, f.agents, p)
	})

	t.Run("TTL change rolls out to every agent", func(t *testing.T) {
		before := getPolicy(t, f.ns)
		f.apply(t, "10m")
		var after *v1alpha1.CachePolicy
		err := Poll(ctx, wait, func() error {
			after = getPolicy(t, f.ns)
			ready := meta.FindStatusCondition(after.Status.Conditions, v1alpha1.ConditionReady)
			switch {
			case after.Generation == before.Generation:
				return errors.New("the TTL change did not bump the generation")
			case after.Status.PolicyHash == before.Status.PolicyHash:
				return fmt.Errorf("status.policyHash is still %q", after.Status.PolicyHash)
			case ready == nil || ready.Status != "True" || ready.ObservedGeneration != after.Generation:
				return fmt.Errorf("Ready is %+v at generation %d", ready, after.Generation)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		waitRow(t, f.ns, "cpol", policy, map[string]string{"SYNCED": "4/4", "READY": "True"})
		waitAgentsRun(t, f.agents, after)
	})

	t.Run("invalidation by tag", func(t *testing.T) {
		// Written through one agent (its memory and Redis), then read
		// through every agent, so that each one's memory tier holds them.
		keys := map[string][]string{
			"product:1": {"product:123"},
			"product:2": {"product:123", "sale"},
			"product:3": {"product:456"},
			"plain":     nil,
		}
		gone := map[string]bool{"product:1": true, "product:2": true}
		for k, tags := range keys {
			if err := f.agents[0].Data.Set(ctx, k, json.RawMessage(`{"k":"`+k+`"}`), agentclient.SetOptions{Tags: tags}); err != nil {
				t.Fatalf("set %s: %v", k, err)
			}
		}
		rdb := f.redis.NewClient(t)
		for k := range keys {
			if n, err := rdb.Exists(ctx, f.prefix+k).Result(); err != nil || n != 1 {
				t.Fatalf("Redis has %s%s %d times (%v) after the write, want 1", f.prefix, k, n, err)
			}
			for _, a := range f.agents {
				if _, err := a.Data.Get(ctx, k); err != nil {
					t.Fatalf("agent %s get %s: %v", a.Name, k, err)
				}
			}
		}

		kubectl(t, invalidation("product-123", "product:123", 5, 3), "create", "-n", f.ns, "-f", "-")
		kubectl(t, "", "wait", "-n", f.ns, "--for=condition=Complete", "cinv/product-123", "--timeout=90s")
		waitRow(t, f.ns, "cinv", "product-123", map[string]string{"POLICY": policy, "PROGRESS": "4/4", "COMPLETE": "True", "FAILED": ""})
		inv := getInvalidation(t, f.ns, "product-123")
		if inv.Status.Succeeded != 4 || inv.Status.Failed != 0 || inv.Status.Sequence == 0 {
			t.Errorf("status: succeeded %d failed %d sequence %d, want 4, 0, >0", inv.Status.Succeeded, inv.Status.Failed, inv.Status.Sequence)
		}

		for k := range keys {
			n, err := rdb.Exists(ctx, f.prefix+k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int64{true: 0, false: 1}[gone[k]]; n != want {
				t.Errorf("Redis: EXISTS %s%s = %d after the invalidation, want %d", f.prefix, k, n, want)
			}
			// Redis no longer has the tagged keys, so a hit can only come
			// from the agent's own memory tier.
			for _, a := range f.agents {
				v, err := a.Data.Get(ctx, k)
				switch {
				case gone[k] && err == nil:
					t.Errorf("agent %s still serves %s (X-Cache %s) after the invalidation", a.Name, k, v.Cache)
				case gone[k] && !agentclient.IsNotFound(err):
					t.Errorf("agent %s get %s: %v, want not found", a.Name, k, err)
				case !gone[k] && err != nil:
					t.Errorf("agent %s lost %s, which the invalidation does not target: %v", a.Name, k, err)
				case !gone[k] && v.Cache != agentapi.CacheHit:
					t.Errorf("agent %s get %s: X-Cache %q, want %q", a.Name, k, v.Cache, agentapi.CacheHit)
				}
			}
		}
		for _, a := range f.agents {
			st, err := agentStatus(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if st.LastInvalidationSeq != inv.Status.Sequence {
				t.Errorf("agent %s applied invalidation %d, want %d", a.Name, st.LastInvalidationSeq, inv.Status.Sequence)
			}
		}
	})
}

// An agent that dies (its Pod stays, as when its container is killed) is
// retried up to backoffLimit, and then the invalidation fails with the
// other three done: it never runs forever.
func TestAgentKilledDuringInvalidationFails(t *testing.T) {
	f := newFleet(t, 4, 4)
	waitRow(t, f.ns, "cpol", policy, map[string]string{"SYNCED": "4/4", "READY": "True"})
	dead := f.agents[3]
	dead.Kill()

	kubectl(t, invalidation("dead-agent", "product:123", 1, 1), "create", "-n", f.ns, "-f", "-")
	var inv *v1alpha1.CacheInvalidation
	err := Poll(context.Background(), wait, func() error {
		inv = getInvalidation(t, f.ns, "dead-agent")
		if meta.IsStatusConditionTrue(inv.Status.Conditions, v1alpha1.ConditionComplete) ||
			meta.IsStatusConditionTrue(inv.Status.Conditions, v1alpha1.ConditionFailed) {
			return nil
		}
		return fmt.Errorf("neither Complete nor Failed: progress %q, pods %+v", inv.Status.Progress, inv.Status.Pods)
	})
	if err != nil {
		t.Fatal(err)
	}
	waitRow(t, f.ns, "cinv", "dead-agent", map[string]string{"PROGRESS": "3/4", "COMPLETE": "", "FAILED": "True"})
	if inv.Status.Succeeded != 3 || inv.Status.Failed != 1 {
		t.Errorf("succeeded %d, failed %d; want 3 and 1", inv.Status.Succeeded, inv.Status.Failed)
	}
	for _, p := range inv.Status.Pods {
		want := v1alpha1.PodSucceeded
		if p.Name == dead.Name {
			want = v1alpha1.PodFailed
			if p.Attempts != 2 {
				t.Errorf("pod %s: %d attempts, want 2 (backoffLimit 1)", p.Name, p.Attempts)
			}
		}
		if p.State != want {
			t.Errorf("pod %s: %s, want %s (%s)", p.Name, p.State, want, p.LastError)
		}
	}
	failed := meta.FindStatusCondition(inv.Status.Conditions, v1alpha1.ConditionFailed)
	if failed == nil || failed.Reason != v1alpha1.ReasonBackoffLimitExceeded {
		t.Errorf("Failed condition %+v, want reason %s", failed, v1alpha1.ReasonBackoffLimitExceeded)
	}
}

// A manager killed while an invalidation waits for an agent picks it up
// again after its restart and completes it once, under the same sequence.
func TestManagerRestartedMidInvalidationCompletesOnce(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, 4, 3)
	late := f.agents[3]
	// Its Pod is Ready but nothing listens on its address yet.
	if err := cp.Register(ctx, late, f.labels); err != nil {
		t.Fatal(err)
	}
	waitRow(t, f.ns, "cpol", policy, map[string]string{"SYNCED": "3/4"})

	kubectl(t, invalidation("restart", "product:123", 1, 20), "create", "-n", f.ns, "-f", "-")
	var mid *v1alpha1.CacheInvalidation
	err := Poll(ctx, wait, func() error {
		mid = getInvalidation(t, f.ns, "restart")
		if mid.Status.Succeeded != 3 || mid.Status.Sequence == 0 {
			return fmt.Errorf("progress %q, sequence %d", mid.Status.Progress, mid.Status.Sequence)
		}
		for _, p := range mid.Status.Pods {
			if p.Name == late.Name && p.State == v1alpha1.PodPending && p.Attempts >= 1 {
				return nil
			}
		}
		return fmt.Errorf("pod %s has not been tried yet: %+v", late.Name, mid.Status.Pods)
	})
	if err != nil {
		t.Fatal(err)
	}
	done := map[string]v1alpha1.PodInvalidationResult{}
	for _, p := range mid.Status.Pods {
		if p.State == v1alpha1.PodSucceeded {
			done[p.Name] = p
		}
	}

	f.mgr.Kill()
	if err := late.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.startManager(t)

	kubectl(t, "", "wait", "-n", f.ns, "--for=condition=Complete", "cinv/restart", "--timeout=90s")
	waitRow(t, f.ns, "cinv", "restart", map[string]string{"PROGRESS": "4/4", "COMPLETE": "True", "FAILED": ""})
	inv := getInvalidation(t, f.ns, "restart")
	if inv.Status.Sequence != mid.Status.Sequence {
		t.Errorf("sequence changed across the restart: %d, then %d", mid.Status.Sequence, inv.Status.Sequence)
	}
	for _, p := range inv.Status.Pods {
		if p.State != v1alpha1.PodSucceeded {
			t.Errorf("pod %s: %s (%s)", p.Name, p.State, p.LastError)
		}
		if before, ok := done[p.Name]; ok && (p.Attempts != before.Attempts || !p.CompletionTime.Equal(before.CompletionTime)) {
			t.Errorf("pod %s was invalidated again after the restart: %+v, then %+v", p.Name, before, p)
		}
	}
	for _, a := range f.agents {
		st, err := agentStatus(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if st.LastInvalidationSeq != inv.Status.Sequence {
			t.Errorf("agent %s applied invalidation %d, want %d", a.Name, st.LastInvalidationSeq, inv.Status.Sequence)
		}
		// What the agent itself logged: the purge of its local tiers,
		// exactly once.
		if n := strings.Count(a.Proc.LogTail(1000), `"uid":"`+string(inv.UID)+`","seq"`); n != 1 {
			t.Errorf("agent %s applied invalidation %s %d times, want once:\n%s", a.Name, inv.UID, n, a.Proc.LogTail(10))
		}
	}
}

// The API server refuses invalid specs with a message naming the rule.
func TestInvalidSpecsAreRejected(t *testing.T) {
	ns, err := cp.CreateNamespace(context.Background(), "e2e-invalid")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, yaml, want string }{
		{"invalidation with two targets", `apiVersion: cache.layercache.io/v1alpha1
kind: CacheInvalidation
metadata:
  name: two-targets
spec:
  policyRef:
    name: e2e
  target:
    tags:
      values: ["a"]
    keys: ["b"]
`, "set exactly one of tags, keys, keyPrefixes, patterns or all: true"},
		{"policy with redis but no address", `apiVersion: cache.layercache.io/v1alpha1
kind: CachePolicy
metadata:
  name: no-address
spec:
  selector:
    matchLabels:
      app: e2e
  layers:
    redis:
      enabled: true
      keyPrefix: "x:"
`, "redis.address is required when the redis layer is enabled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, err := cp.Kubectl(context.Background(), c.yaml, "create", "-n", ns, "-f", "-")
			if err == nil {
				t.Fatalf("kubectl create succeeded: %s", out)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("kubectl create failed, but its stderr does not say %q:\n%s", c.want, stderr)
			}
		})
	}
}
