package podinject

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/inject"
)

// The control plane the tests of this package share: a real
// kube-apiserver and etcd (envtest) with the CRDs and the injection
// webhook installed, served by a manager running Register. Each test works
// in its own namespace, so tests run in parallel.
var suite struct {
	restConfig *rest.Config
	scheme     *runtime.Scheme
	client     client.Client
}

// suiteConfig is the inject.Config the suite's injector injects with.
// testImage is the agent image the suite injects.
const testImage = "registry.example/layercache/agent:v1.2.3"

var suiteConfig = inject.Config{AgentImage: testImage, NativeSidecars: true}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "podinject tests need a kube-apiserver and etcd: run them with `make test`, "+
			"or export KUBEBUILDER_ASSETS=$(bash hack/envtest-bins.sh)")
		return 1
	}
	ctrl.SetLogger(logr.Discard())
	suite.scheme = runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(suite.scheme); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(suite.scheme); err != nil {
		panic(err)
	}
	env := &envtest.Environment{
		// Only the kind the injector reads: the tests need no other.
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "..", "config", "crd", "bases", "cache.layercache.io_cachepolicies.yaml")},
		ErrorIfCRDPathMissing: true,
		Scheme:                suite.scheme,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{webhookConfiguration()},
		},
	}
	var err error
	if suite.restConfig, err = env.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "start envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop envtest: %v\n", err)
		}
	}()
	if suite.client, err = client.New(suite.restConfig, client.Options{Scheme: suite.scheme}); err != nil {
		fmt.Fprintf(os.Stderr, "client: %v\n", err)
		return 1
	}
	stop, err := startInjector(env.WebhookInstallOptions)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

// webhookConfiguration is the MutatingWebhookConfiguration the markers on
// Webhook describe. envtest points it at the local webhook server.
func webhookConfiguration() *admissionregistrationv1.MutatingWebhookConfiguration {
	// envtest builds the URL as "https://host:port/" + path.
	path := strings.TrimPrefix(MutatePath, "/")
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "layercache-inject"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:         "inject.cache.layercache.io",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Name: "layercache-webhook", Namespace: "layercache-system", Path: &path}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{v1alpha1.LabelInject: "true"}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNoneOnDryRun),
			ReinvocationPolicy:      ptr.To(admissionregistrationv1.IfNeededReinvocationPolicy),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
}

// startInjector runs a manager serving the injector on envtest's local
// webhook address, and waits until the API server calls it.
func startInjector(o envtest.WebhookInstallOptions) (stop func(), err error) {
	mgr, err := ctrl.NewManager(suite.restConfig, ctrl.Options{
		Scheme:                 suite.scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: o.LocalServingHost, Port: o.LocalServingPort, CertDir: o.LocalServingCertDir,
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	if err := Register(mgr, suiteConfig); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintf(os.Stderr, "manager: %v\n", err)
		}
	}
	if err := waitForInjector(ctx); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// waitForInjector polls, with dry-run pod creations, until the API server
// calls the injector: the webhook server and the API server's view of the
// webhook configuration both take a moment to be ready.
func waitForInjector(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "canary-"}}
	if err := suite.client.Create(ctx, ns); err != nil {
		return fmt.Errorf("create canary namespace: %w", err)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		c, w, err := warningClient()
		if err != nil {
			return err
		}
		err = c.Create(ctx, labelledPod(ns.Name, nil), client.DryRunAll)
		if err == nil && w.has("agent not injected") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the API server never called the injector (last error: %v): %w", err, ctx.Err())
		case <-tick.C:
		}
	}
}

// warnings records the warnings the API server returns.
type warnings struct {
	mu   sync.Mutex // protects msgs
	msgs []string
}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, code int, _, text string) {
	if code != 299 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

// all returns the warnings recorded so far.
func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// has reports whether a warning containing s was recorded.
func (w *warnings) has(s string) bool {
	for _, m := range w.all() {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// warningClient returns a client whose requests' warnings land in w.
func warningClient() (client.Client, *warnings, error) {
	w := &warnings{}
	cfg := rest.CopyConfig(suite.restConfig)
	cfg.WarningHandler = nil
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: suite.scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("warning client: %w", err)
	}
	return c, w, nil
}

// newWarningClient is warningClient for a test.
func newWarningClient(t *testing.T) (client.Client, *warnings) {
	t.Helper()
	c, w, err := warningClient()
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	if err := suite.client.Create(t.Context(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	// envtest has no namespace controller: deleting only marks it, which
	// is enough to keep tests apart.
	t.Cleanup(func() { _ = suite.client.Delete(context.Background(), ns) })
	return ns.Name
}

// labelledPod is a pod asking for the agent, with extra labels.
func labelledPod(ns string, extra map[string]string) *corev1.Pod {
	labels := map[string]string{"app": "web", v1alpha1.LabelInject: "true"}
	for k, v := range extra {
		labels[k] = v
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/web:1"}}},
	}
}

// createPolicy creates a CachePolicy selecting app=<app> in ns.
func createPolicy(t *testing.T, ns, name, app string) *v1alpha1.CachePolicy {
	t.Helper()
	p := &v1alpha1.CachePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       v1alpha1.CachePolicySpec{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
	}
	if err := suite.client.Create(t.Context(), p); err != nil {
		t.Fatalf("create CachePolicy %s: %v", name, err)
	}
	return p
}

// createTLSSecret creates the agent TLS Secret in ns (its contents do not
// matter: no agent runs).
func createTLSSecret(t *testing.T, ns string) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.AgentTLSSecret, Namespace: ns},
		Data:       map[string][]byte{corev1.TLSCertKey: []byte("cert"), corev1.TLSPrivateKeyKey: []byte("key"), "ca.crt": []byte("ca")},
	}
	if err := suite.client.Create(t.Context(), s); err != nil {
		t.Fatalf("create Secret: %v", err)
	}
}
