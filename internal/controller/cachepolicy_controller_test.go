package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

func newPolicy(ns, name, app string, mod func(*v1alpha1.CachePolicySpec)) *v1alpha1.CachePolicy {
	p := &v1alpha1.CachePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.CachePolicySpec{
			Selector:  metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Freshness: &v1alpha1.FreshnessSpec{TTL: "5m"},
		},
	}
	if mod != nil {
		mod(&p.Spec)
	}
	return p
}

func getPolicy(t *testing.T, ns, name string) *v1alpha1.CachePolicy {
	t.Helper()
	var p v1alpha1.CachePolicy
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
		t.Fatalf("get policy: %v", err)
	}
	return &p
}

// policyCondition waits until the policy's condition typ has status and
// reason for the current generation, and returns the policy.
func waitPolicyCondition(t *testing.T, ns, name, typ string, status metav1.ConditionStatus, reason string) *v1alpha1.CachePolicy {
	t.Helper()
	var p *v1alpha1.CachePolicy
	eventually(t, fmt.Sprintf("policy %s %s=%s (%s)", name, typ, status, reason), func() error {
		p = getPolicy(t, ns, name)
		c := meta.FindStatusCondition(p.Status.Conditions, typ)
		if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != p.Generation {
			return fmt.Errorf("condition %+v, generation %d, summary %q, pods %+v", c, p.Generation, p.Status.Summary, p.Status.Pods)
		}
		return nil
	})
	return p
}

func TestPolicyReachesEveryAgentAndRollsOutChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	f := startFleet(t, ns, "shop", 3, agent.Options{})
	startOperator(t, ns, Options{})
	pol := newPolicy(ns, "catalog", "shop", nil)
	if err := k8s.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	p := waitPolicyCondition(t, ns, "catalog", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	if p.Status.Summary != "3/3" || p.Status.Agents.Selected != 3 || p.Status.Agents.Ready != 3 || len(p.Status.Pods) != 0 {
		t.Fatalf("status %+v; want 3/3 synced and ready, no problem pods", p.Status)
	}
	if meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReconciling) != nil {
		t.Fatal("Reconciling is still set once every agent is synced")
	}
	firstHash := p.Status.PolicyHash
	// The bootstrap ConfigMap holds the same policy, for agents that start
	// while the operator is away.
	var cm corev1.ConfigMap
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: v1alpha1.BootstrapConfigMapName("catalog")}, &cm); err != nil {
		t.Fatalf("bootstrap ConfigMap: %v", err)
	}
	var boot agentapi.Policy
	if err := json.Unmarshal([]byte(cm.Data[v1alpha1.BootstrapKey]), &boot); err != nil || boot.Hash != firstHash {
		t.Fatalf("bootstrap policy hash %q (%v); want %s", boot.Hash, err, firstHash)
	}
	for name, a := range f.agents {
		st, err := a.admin.Status(ctx)
		if err != nil || st.PolicyHash != firstHash || st.PolicyName != ns+"/catalog" {
			t.Fatalf("agent %s status = %+v, %v; want hash %s from %s/catalog", name, st, err, firstHash, ns)
		}
	}

	// A TTL change reaches every agent.
	p.Spec.Freshness.TTL = "10m"
	if err := k8s.Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new policy on every agent", func() error {
		p = getPolicy(t, ns, "catalog")
		if p.Status.PolicyHash == firstHash || p.Status.ObservedGeneration != p.Generation {
			return fmt.Errorf("status still describes the old spec")
		}
		for name, a := range f.agents {
			st, err := a.admin.Status(ctx)
			if err != nil || st.PolicyHash != p.Status.PolicyHash {
				return fmt.Errorf("agent %s runs %s: %v", name, st.PolicyHash, err)
			}
		}
		if p.Status.Summary != "3/3" {
			return fmt.Errorf("summary %s", p.Status.Summary)
		}
		return nil
	})
}

func TestPolicyCountsAPodThatGoesAway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	f := startFleet(t, ns, "web", 2, agent.Options{})
	startOperator(t, ns, Options{})
	if err := k8s.Create(ctx, newPolicy(ns, "web", "web", nil)); err != nil {
		t.Fatal(err)
	}
	waitPolicyCondition(t, ns, "web", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	if err := k8s.Delete(ctx, f.pods[0]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "one pod counted", func() error {
		if p := getPolicy(t, ns, "web"); p.Status.Summary != "1/1" {
			return fmt.Errorf("summary %s", p.Status.Summary)
		}
		return nil
	})
}

func TestPolicyWithNoReachableAgentSaysWhy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	ln, addr := listen(t)
	_ = ln.Close() // nothing listens there any more
	_, portStr, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(portStr)
	createPod(t, ns, "lonely-0", map[string]string{"app": "lonely"}, p)
	startOperator(t, ns, Options{})
	if err := k8s.Create(ctx, newPolicy(ns, "lonely", "lonely", nil)); err != nil {
		t.Fatal(err)
	}
	pol := waitPolicyCondition(t, ns, "lonely", v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonAgentsUnreachable)
	msg := meta.FindStatusCondition(pol.Status.Conditions, v1alpha1.ConditionReady).Message
	if !strings.Contains(msg, "NetworkPolicy") || pol.Status.Agents.Unreachable != 1 || len(pol.Status.Pods) != 1 || pol.Status.Pods[0].State != v1alpha1.AgentUnreachable {
		t.Fatalf("status %+v (message %q); want one unreachable pod and a hint at NetworkPolicy", pol.Status, msg)
	}
}

func TestPolicyRejectedByAnAgentIsDegradedAndNamesThePod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	startFleet(t, ns, "disk", 1, agent.Options{})
	startOperator(t, ns, Options{})
	// The agent cannot create its disk tier under /proc: it refuses the
	// policy and keeps the one it has.
	pol := newPolicy(ns, "disk", "disk", func(s *v1alpha1.CachePolicySpec) {
		s.Layers.Disk = &v1alpha1.DiskLayerSpec{Enabled: true, Path: "/proc/layercache-cannot-exist"}
	})
	if err := k8s.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	p := waitPolicyCondition(t, ns, "disk", v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonAgentsRejectedPolicy)
	if p.Status.Agents.Rejected != 1 || len(p.Status.Pods) != 1 || p.Status.Pods[0].Name != "disk-0" || p.Status.Pods[0].Message == "" {
		t.Fatalf("status %+v; want disk-0 listed as rejected with the agent's reason", p.Status)
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionFalse {
		t.Fatalf("Ready = %+v; want False while an agent refuses the policy", c)
	}
}

func TestPolicyWarmingKeysComeFromAConfigMapThatMayAppearLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	f := startFleet(t, ns, "warm", 1, agent.Options{})
	startOperator(t, ns, Options{})
	pol := newPolicy(ns, "warm", "warm", func(s *v1alpha1.CachePolicySpec) {
		s.Origins = []v1alpha1.OriginSpec{{KeyPattern: "user:*", URLTemplate: "http://127.0.0.1:1/users/{1}"}}
		s.Warming = &v1alpha1.WarmingSpec{KeysFrom: &v1alpha1.ConfigMapKeyRef{Name: "warm-keys", Key: "keys"}}
	})
	if err := k8s.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	p := waitPolicyCondition(t, ns, "warm", v1alpha1.ConditionStalled, metav1.ConditionTrue, v1alpha1.ReasonInvalidSpec)
	if msg := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionStalled).Message; !strings.Contains(msg, "warm-keys") {
		t.Fatalf("Stalled message %q does not name the missing ConfigMap", msg)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "warm-keys"},
		Data: map[string]string{"keys": "# hot users\nuser:1\n\nuser:2\n"}}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	waitPolicyCondition(t, ns, "warm", v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAllAgentsSynced)
	p = getPolicy(t, ns, "warm")
	if meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionStalled) != nil {
		t.Fatal("Stalled is still set after the ConfigMap appeared")
	}
	st, err := f.agents["warm-0"].admin.Status(ctx)
	if err != nil || st.Warming.Total != 2 {
		t.Fatalf("agent warming = %+v, %v; want the 2 keys of the ConfigMap", st.Warming, err)
	}
}

func TestSuspendedPolicyIsNotPushed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	f := startFleet(t, ns, "paused", 1, agent.Options{})
	startOperator(t, ns, Options{})
	if err := k8s.Create(ctx, newPolicy(ns, "paused", "paused", func(s *v1alpha1.CachePolicySpec) { s.Suspend = true })); err != nil {
		t.Fatal(err)
	}
	waitPolicyCondition(t, ns, "paused", v1alpha1.ConditionReconciling, metav1.ConditionFalse, v1alpha1.ReasonSuspended)
	if st, err := f.agents["paused-0"].admin.Status(ctx); err != nil || st.PolicyName != "" {
		t.Fatalf("agent status = %+v, %v; want the suspended policy not pushed", st, err)
	}
}
