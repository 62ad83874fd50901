package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/internal/redistest"
)

// cp is the control plane all tests share; each test works in its own
// namespace and runs its own manager and agents.
var cp *ControlPlane

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "test/e2e: "+AssetsHelp)
		return 1
	}
	root, err := RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "layercache-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	tools, err := BuildTools(root, filepath.Join(dir, "bin"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "test/e2e:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if cp, err = StartControlPlane(ctx, tools, root, dir); err != nil {
		fmt.Fprintln(os.Stderr, "test/e2e:", err)
		return 1
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "test/e2e: stop the control plane:", err)
		}
	}()
	return redistest.Wrap(m).Run()
}

const (
	// wait bounds every wait for the system to converge: generous, since
	// no test asserts on timing.
	wait   = 90 * time.Second
	policy = "e2e"
)

// agentIPs are the loopback addresses of the (at most four) agents of a test.
var agentIPs = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}

// fleet is one test's namespace, manager, agents and Redis prefix.
type fleet struct {
	ns     string
	mgr    *Process
	mgrLog string
	agents []*Agent
	redis  *redistest.Server
	prefix string
	labels map[string]string
}

// newFleet creates a namespace, starts a manager, applies the e2e policy
// (TTL ttl) with Redis, and prepares n agents; the first `start` of them
// are started and registered, the others only described.
func newFleet(t *testing.T, n, start int) *fleet {
	t.Helper()
	ctx := context.Background()
	ns, err := cp.CreateNamespace(ctx, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{ns: ns, redis: redistest.Shared(t), prefix: "e2e:" + ns + ":", labels: map[string]string{"app": "e2e"}}
	f.mgrLog = filepath.Join(cp.Dir, ns+"-manager.log")
	f.startManager(t)
	t.Cleanup(func() {
		// The next test reuses the agents' addresses: take this test's
		// Pods away so that no manager calls them again.
		err := cp.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0))
		if err != nil {
			t.Errorf("delete the pods of %s: %v", ns, err)
		}
	})
	f.apply(t, "5m")
	for i := range n {
		a, err := cp.NewAgent(ns, fmt.Sprintf("shop-%d", i), agentIPs[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := cp.WriteTLS(ctx, a, wait); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Kill)
		f.agents = append(f.agents, a)
		t.Cleanup(func() {
			if t.Failed() && a.Proc != nil {
				t.Logf("agent %s log:\n%s", a.Name, a.Proc.LogTail(15))
			}
		})
	}
	for _, a := range f.agents[:start] {
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := cp.Register(ctx, a, f.labels); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fleet) startManager(t *testing.T) {
	t.Helper()
	mgr, err := cp.StartManager(f.mgrLog)
	if err != nil {
		t.Fatal(err)
	}
	f.mgr = mgr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log (%s):\n%s", f.mgrLog, mgr.LogTail(40))
		}
		mgr.Kill()
	})
}

// apply applies the e2e policy with the given TTL through kubectl.
func (f *fleet) apply(t *testing.T, ttl string) {
	t.Helper()
	kubectl(t, f.policyYAML(ttl, ""), "apply", "-n", f.ns, "-f", "-")
}

// policyYAML is the e2e policy (memory and Redis, TTL ttl) with extra,
// more fields of its spec indented by two spaces, appended.
func (f *fleet) policyYAML(ttl, extra string) string {
	return fmt.Sprintf(`apiVersion: cache.layercache.io/v1alpha1
kind: CachePolicy
metadata:
  name: %s
spec:
  selector:
    matchLabels:
      app: e2e
  layers:
    memory:
      maxEntries: 10000
    redis:
      enabled: true
      address: %q
      keyPrefix: %q
  freshness:
    ttl: %s
%s`, policy, f.redis.Addr(), f.prefix, ttl, extra)
}

// kubectl runs kubectl and fails the test if it fails.
func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, _, err := cp.Kubectl(context.Background(), stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// row is the row of `kubectl get KIND NAME -n ns`.
func row(ns, kind, name string) (map[string]string, error) {
	out, _, err := cp.Kubectl(context.Background(), "", "get", kind, name, "-n", ns)
	if err != nil {
		return nil, err
	}
	tab, err := ParseTable(out)
	if err != nil {
		return nil, err
	}
	return tab.Row(name)
}

// waitRow waits until `kubectl get KIND NAME` shows the wanted cells.
func waitRow(t *testing.T, ns, kind, name string, want map[string]string) map[string]string {
	t.Helper()
	var got map[string]string
	err := Poll(context.Background(), wait, func() error {
		var err error
		if got, err = row(ns, kind, name); err != nil {
			return err
		}
		var diff []string
		for k, v := range want {
			if got[k] != v {
				diff = append(diff, fmt.Sprintf("%s=%q, want %q", k, got[k], v))
			}
		}
		if len(diff) > 0 {
			return fmt.Errorf("kubectl get %s %s: %s (row %v)", kind, name, strings.Join(diff, ", "), got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
