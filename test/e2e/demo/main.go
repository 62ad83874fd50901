// Command demo starts the local control plane of the end-to-end tests —
// kube-apiserver and etcd, the Helm chart, the manager, two agents on
// 127.0.0.2 and 127.0.0.3 and a Redis — applies the sample CachePolicy
// (pointed at that Redis, without its origins, warming and snapshot
// schedule, which need services that do not run here), prints what to try
// with kubectl and curl, and runs until interrupted (SIGINT or SIGTERM).
//
// Usage (from the repository root):
//
//	KUBEBUILDER_ASSETS=$(bash hack/envtest-bins.sh) go run ./test/e2e/demo
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/test/e2e"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

const namespace = "default"

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := e2e.RepoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "layercache-demo-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()

	say("building the manager and the agent, finding kubectl and helm")
	tools, err := e2e.BuildTools(root, filepath.Join(dir, "bin"))
	if err != nil {
		return err
	}
	redisAddr, redis, err := startRedis(dir)
	if err != nil {
		return err
	}
	defer redis.Kill()

	say("starting kube-apiserver and etcd, installing the chart with helm")
	cp, err := e2e.StartControlPlane(ctx, tools, root, dir)
	if err != nil {
		return err
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stop the control plane:", err)
		}
	}()
	mgr, err := cp.StartManager(filepath.Join(dir, "manager.log"))
	if err != nil {
		return err
	}
	defer mgr.Kill()

	policy, err := samplePolicy(root, redisAddr)
	if err != nil {
		return err
	}
	if err := cp.Client.Create(ctx, policy); err != nil {
		return fmt.Errorf("create the sample CachePolicy: %w", err)
	}
	var agents []*e2e.Agent
	defer func() {
		for _, a := range agents {
			a.Kill()
		}
	}()
	for i, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		a, err := cp.NewAgent(namespace, fmt.Sprintf("catalog-%d", i), ip)
		if err != nil {
			return err
		}
		if err := cp.WriteTLS(ctx, a, time.Minute); err != nil {
			return err
		}
		if err := a.Start(ctx); err != nil {
			return err
		}
		agents = append(agents, a)
		if err := cp.Register(ctx, a, policy.Spec.Selector.MatchLabels); err != nil {
			return err
		}
	}

	data := "http://" + net.JoinHostPort(agents[0].IP, "7070")
	fmt.Printf(`
layercache demo is running: a kube-apiserver with the chart's CRDs and RBAC,
the manager (log: %s), agents %s and %s (pods catalog-0 and catalog-1 in
namespace %s, logs under %s) and Redis at %s.

Try:

  export KUBECONFIG=%s
  alias kubectl=%s
  kubectl get cpol,cinv,csnap
  kubectl describe cpol catalog

  # write a tagged entry through agent catalog-0, read it from catalog-1
  curl -X PUT '%s/v1/keys/product:123?tags=product:123' -d '{"name":"chair"}'
  curl -i http://%s/v1/keys/product:123

  # invalidate it everywhere (Redis once, each agent's memory)
  kubectl create -f %s
  kubectl wait --for=condition=Complete cinv/product-123 --timeout=2m
  kubectl get cinv
  curl -i http://%s/v1/keys/product:123

Press Ctrl-C to stop everything.
`, mgr.Log, agents[0].IP, agents[1].IP, namespace, filepath.Join(dir, namespace), redisAddr,
		cp.Kubeconfig, tools.Kubectl, data, net.JoinHostPort(agents[1].IP, "7070"),
		filepath.Join(root, "config", "samples", "cache_v1alpha1_cacheinvalidation.yaml"),
		net.JoinHostPort(agents[1].IP, "7070"))

	for {
		select {
		case <-ctx.Done():
			say("stopping")
			return nil
		case <-time.After(time.Second):
		}
		if exited, err := mgr.Exited(); exited {
			return fmt.Errorf("the manager exited (%v):\n%s", err, mgr.LogTail(20))
		}
	}
}

// samplePolicy is config/samples' CachePolicy with Redis at addr, and
// without what needs services that do not run here.
func samplePolicy(root, addr string) (*v1alpha1.CachePolicy, error) {
	data, err := os.ReadFile(filepath.Join(root, "config", "samples", "cache_v1alpha1_cachepolicy.yaml"))
	if err != nil {
		return nil, err
	}
	var p v1alpha1.CachePolicy
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		return nil, fmt.Errorf("sample CachePolicy: %w", err)
	}
	if p.Spec.Layers.Redis == nil {
		return nil, errors.New("the sample CachePolicy has no redis layer to point at the demo's Redis")
	}
	p.Namespace = namespace
	p.Spec.Layers.Redis.Address = addr
	p.Spec.Origins, p.Spec.Warming, p.Spec.Snapshots = nil, nil, nil
	return &p, nil
}

// startRedis runs redis-server on a free loopback port, without
// persistence, its files in dir.
func startRedis(dir string) (string, *e2e.Process, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("redis-server is not on PATH (`make redis` or hack/install-redis.sh installs it): %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	tcp, ok := l.Addr().(*net.TCPAddr)
	_ = l.Close()
	if !ok {
		return "", nil, fmt.Errorf("unexpected listener address %v", l.Addr())
	}
	port := tcp.Port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p, err := e2e.StartProcess("redis-server", bin, []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", dir}, filepath.Join(dir, "redis.log"))
	if err != nil {
		return "", nil, err
	}
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return addr, p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.Kill()
	return "", nil, fmt.Errorf("redis-server did not listen on %s:\n%s", addr, p.LogTail(10))
}

func say(msg string) { fmt.Fprintln(os.Stderr, "demo:", msg) }
