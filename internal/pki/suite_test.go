package pki_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/layercache/layercache/internal/pki"
)

// k8s is a client of the real API server (envtest) every test shares.
// Each test works in namespaces of its own, so tests run in parallel.
var k8s client.Client

func TestMain(m *testing.M) {
	// Goroutines started before the suite (none of ours) are not leaks.
	ignore := goleak.IgnoreCurrent()
	code := runSuite(m)
	if code == 0 {
		if err := goleak.Find(ignore); err != nil {
			fmt.Fprintf(os.Stderr, "leaked goroutines: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "pki tests need a kube-apiserver and etcd (envtest): run them with `make test`, "+
			"or export KUBEBUILDER_ASSETS=$(bash hack/envtest-bins.sh)")
		return 1
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintf(os.Stderr, "scheme: %v\n", err)
		return 1
	}
	env := &envtest.Environment{Scheme: scheme}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
		}
	}()
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	return m.Run()
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "pki-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	// envtest has no namespace controller: deleting only marks it.
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	return ns.Name
}

// clock is a settable Rotator.Now.
type clock struct {
	mu  sync.Mutex // protects now
	now time.Time
}

func newClock(now time.Time) *clock { return &clock{now: now} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// webhookService is the Service name the tests' Rotators issue for.
const webhookService = "layercache-webhook"

// newRotator returns a Rotator for the operator namespace ns, on clk.
func newRotator(ns string, clk *clock) *pki.Rotator {
	return &pki.Rotator{Client: k8s, Reader: k8s, Namespace: ns, WebhookService: webhookService, Now: clk.Now}
}

func getSecret(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	var s corev1.Secret
	if err := k8s.Get(context.Background(), keyOf(ns, name), &s); err != nil {
		t.Fatalf("get Secret %s/%s: %v", ns, name, err)
	}
	return &s
}

// certsIn returns the certificates of a PEM bundle.
func certsIn(t *testing.T, bundle []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		b, rest := pem.Decode(bundle)
		if b == nil {
			return out
		}
		c, err := x509.ParseCertificate(b.Bytes)
		must(t, err)
		out = append(out, c)
		bundle = rest
	}
}

// must fails t on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func keyOf(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

// eventually polls cond until it returns nil, failing t with its last
// error after a generous limit. It asserts nothing about speed.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: never happened: %v", what, err)
		case <-tick.C:
		}
	}
}
