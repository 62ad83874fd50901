package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/layercache/layercache/api/v1alpha1"
)

// OperatorNamespace is where the chart is installed and the manager keeps
// its CA.
const OperatorNamespace = "layercache-system"

// ControlPlane is a kube-apiserver and etcd with the chart installed.
type ControlPlane struct {
	// Kubeconfig is the path of an admin kubeconfig for it.
	Kubeconfig string
	// Client is an admin client that knows the layercache kinds.
	Client client.Client
	// Config is the admin rest.Config.
	Config *rest.Config
	// Tools are the programs the harness runs.
	Tools Tools
	// Root is the repository root.
	Root string
	// Dir holds the kubeconfig and the processes' files.
	Dir string
	env *envtest.Environment
}

// StartControlPlane starts kube-apiserver and etcd (from
// KUBEBUILDER_ASSETS), writes a kubeconfig into dir and installs the chart
// (without its webhook) with helm. Stop it with Stop.
func StartControlPlane(ctx context.Context, tools Tools, root, dir string) (*ControlPlane, error) {
	cp := &ControlPlane{Tools: tools, Root: root, Dir: dir, env: &envtest.Environment{}}
	cfg, err := cp.env.Start()
	if err != nil {
		return nil, fmt.Errorf("start kube-apiserver and etcd: %w", err)
	}
	cp.Config = cfg
	if err := cp.setUp(ctx); err != nil {
		_ = cp.Stop()
		return nil, err
	}
	return cp, nil
}

func (cp *ControlPlane) setUp(ctx context.Context) error {
	cp.Kubeconfig = filepath.Join(cp.Dir, "kubeconfig")
	if err := WriteKubeconfig(cp.Config, cp.Kubeconfig); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := client.New(cp.Config, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	cp.Client = c
	if err := cp.helmInstall(); err != nil {
		return err
	}
	// The CRDs come from the chart: wait until they serve.
	return Poll(ctx, time.Minute, func() error {
		for _, l := range []client.ObjectList{&v1alpha1.CachePolicyList{}, &v1alpha1.CacheInvalidationList{}, &v1alpha1.CacheSnapshotList{}} {
			if err := c.List(ctx, l); err != nil {
				return fmt.Errorf("the chart's CRDs do not serve yet: %w", err)
			}
		}
		return nil
	})
}

// helmInstall installs charts/layercache as release "layercache". There is
// no kubelet, so its Deployment never runs; the CRDs, RBAC and namespace
// are what it gives, and the harness runs the manager binary instead.
func (cp *ControlPlane) helmInstall() error {
	home := filepath.Join(cp.Dir, "helm")
	cmd := exec.Command(cp.Tools.Helm, "install", "layercache", filepath.Join(cp.Root, "charts", "layercache"),
		"--kubeconfig", cp.Kubeconfig, "--namespace", OperatorNamespace, "--create-namespace",
		"--set", "webhook.enabled=false", "--wait=false")
	// Keep helm away from the user's repositories, plugins and cache.
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("helm install: %w\n%s", err, out.String())
	}
	return nil
}

// Stop stops the API server and etcd.
func (cp *ControlPlane) Stop() error { return cp.env.Stop() }

// WriteKubeconfig writes a kubeconfig at path that reaches the API server of
// cfg (an envtest control plane) as cfg's user.
func WriteKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest"}
	kc.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*kc, path)
}

// StartManager runs the manager binary against the control plane, with its
// own CA in OperatorNamespace, no webhook and a 2s resync; its log goes to
// logPath.
func (cp *ControlPlane) StartManager(logPath string) (*Process, error) {
	return StartProcess("manager", cp.Tools.Manager, []string{
		"--kubeconfig=" + cp.Kubeconfig, "--namespace=" + OperatorNamespace, "--webhook=false",
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--resync=2s",
	}, logPath)
}

// CreateNamespace creates a namespace whose name is prefix, a dash and a
// suffix the API server generates, and returns that name.
func (cp *ControlPlane) CreateNamespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{}
	ns.GenerateName = prefix + "-"
	if err := cp.Client.Create(ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}

// Kubectl runs kubectl with the control plane's kubeconfig, stdin as its
// input (may be empty), and returns its stdout and stderr; err is non-nil
// when it exits non-zero.
func (cp *ControlPlane) Kubectl(ctx context.Context, stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, cp.Tools.Kubectl, append([]string{"--kubeconfig=" + cp.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if err != nil {
		err = fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(e.String()))
	}
	return o.String(), e.String(), err
}

// Poll calls cond every 200ms until it returns nil or timeout passes, and
// then returns its last error.
func Poll(ctx context.Context, timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not so after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
