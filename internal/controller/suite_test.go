package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
)

// The control plane every test of this package shares: a real
// kube-apiserver and etcd (envtest) with the CRDs installed. Each test
// works in its own namespace with its own manager, so tests run in
// parallel and one can stop and restart "the operator".
var (
	testEnv    *envtest.Environment
	restConfig *rest.Config
	k8s        client.Client
	scheme     = runtime.NewScheme()
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "controller tests need a kube-apiserver and etcd: run them with `make test`, "+
			"or export KUBEBUILDER_ASSETS=$(bash hack/envtest-bins.sh)")
		return 1
	}
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	var err error
	if restConfig, err = testEnv.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "start envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
		}
	}()
	if k8s, err = client.New(restConfig, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	return m.Run()
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	// envtest has no namespace controller: deleting only marks it, which
	// is enough to keep tests apart.
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	return ns.Name
}

// operator is a manager running the reconcilers for one namespace.
type operator struct {
	stop func()
}

// startOperator runs the reconcilers over namespace ns until the test ends
// (or stop is called), reaching agents with plain HTTP.
func startOperator(t *testing.T, ns string, opts Options) *operator {
	t.Helper()
	if opts.Agents == nil {
		opts.Agents = agentconn.NewDialer(nil, nil)
	}
	if opts.Resync == 0 {
		opts.Resync = 2 * time.Second
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             controllerConfig(),
	})
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	if err := Setup(mgr, opts); err != nil {
		t.Fatalf("setup: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	op := &operator{stop: func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}}
	t.Cleanup(op.stop)
	return op
}

// eventually polls cond until it returns nil, failing the test with its last
// error after a generous limit. It waits for the operator to converge; it
// asserts nothing about speed.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: never happened: %v", what, err)
}
