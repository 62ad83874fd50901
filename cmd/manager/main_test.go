package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agenttest"
	"github.com/layercache/layercache/test/e2e"
)

// The manager runs here as the binary does (run with flags and a
// kubeconfig) against a real kube-apiserver and etcd, with its own CA.
var (
	k8s        client.Client
	kubeconfig string
)

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "manager tests need a kube-apiserver and etcd: run them with `make test`, "+
			"or export KUBEBUILDER_ASSETS=$(bash hack/envtest-bins.sh)")
		return 1
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start envtest: %v\n", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	dir, err := os.MkdirTemp("", "manager-test")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := e2e.WriteKubeconfig(cfg, kubeconfig); err != nil {
		fmt.Fprintf(os.Stderr, "kubeconfig: %v\n", err)
		return 1
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	return m.Run()
}

func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "m-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: never happened: %v", what, err)
}

// startMTLSAgent runs a real agent with the admin TLS material of the
// namespace's agent Secret, as the injected sidecar does from its mounted
// files: its certificate, client certificates verified against ca.crt, and
// only the operator's identity accepted.
func startMTLSAgent(t *testing.T, secret *corev1.Secret) int {
	t.Helper()
	cert, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(secret.Data["ca.crt"]) {
		t.Fatal("the agent Secret's ca.crt holds no certificate")
	}
	ra := agenttest.Start(t, agent.Options{
		AdminTLS: &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
			ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert},
		AuthorizeAdmin: func(c *x509.Certificate) error {
			for _, u := range c.URIs {
				if u.String() == v1alpha1.OperatorURI {
					return nil
				}
			}
			return errors.New("not the operator")
		},
	})
	_, port, _ := net.SplitHostPort(ra.AdminAddr)
	p, _ := strconv.Atoi(port)
	return p
}

// The manager, run with its defaults (its own CA), issues the agents' TLS
// Secret in a policy's namespace and then configures an agent that uses it
// over mutual TLS.
func TestManagerWithItsOwnCAConfiguresAnAgentOverMutualTLS(t *testing.T) {
	ctx := context.Background()
	opNS, appNS := namespace(t), namespace(t)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	cfg, err := parseFlags([]string{
		"--kubeconfig=" + kubeconfig, "--namespace=" + opNS, "--webhook=false",
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--resync=2s",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.skipNameValidation = true // -count=N runs the manager N times in this process
	go func() { done <- runConfig(runCtx, cfg, io.Discard) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("run returned %v", err)
		}
	})

	policy := &v1alpha1.CachePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "catalog"},
		Spec: v1alpha1.CachePolicySpec{
			Selector:  metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
			Freshness: &v1alpha1.FreshnessSpec{TTL: "5m"},
		},
	}
	if err := k8s.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	var secret corev1.Secret
	eventually(t, "the agent TLS Secret in the policy's namespace", func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: appNS, Name: v1alpha1.AgentTLSSecret}, &secret)
	})
	port := startMTLSAgent(t, &secret)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNS, Name: "shop-0", Labels: map[string]string{"app": "shop"},
			Annotations: map[string]string{v1alpha1.AnnotationAdminPort: strconv.Itoa(port)}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app"}}},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the policy synced to the agent over mutual TLS", func() error {
		var p v1alpha1.CachePolicy
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(policy), &p); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(p.Status.Conditions, v1alpha1.ConditionReady) || p.Status.Summary != "1/1" {
			return fmt.Errorf("summary %q, conditions %+v, pods %+v", p.Status.Summary, p.Status.Conditions, p.Status.Pods)
		}
		return nil
	})
	for _, name := range []string{"layercache-ca", "layercache-operator-tls"} {
		var s corev1.Secret
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: opNS, Name: name}, &s); err != nil {
			t.Fatalf("operator Secret %s: %v", name, err)
		}
	}
}
