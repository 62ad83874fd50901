package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/pki"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

// Agent is one agent: a Pod in the API server and, while it runs, an agent
// process listening on the Pod's IP (a loopback address) on the default
// ports, as the sidecar would in the pod's network namespace.
type Agent struct {
	// Namespace and Name are the Pod's.
	Namespace, Name string
	// IP is the loopback address it binds and the Pod's status.podIP.
	IP string
	// Dir holds its TLS files and log.
	Dir string
	// Proc is the running process, nil before Start.
	Proc *Process
	// Data is a client of its data API.
	Data *agentclient.Data
	// Bootstrap, when set, is the policy file the agent starts with
	// (--bootstrap-policy), as the injected sidecar reads it from the
	// policy's bootstrap ConfigMap.
	Bootstrap string
	bin       string
}

// NewAgent describes an agent; nothing runs and nothing is created yet.
func (cp *ControlPlane) NewAgent(ns, name, ip string) (*Agent, error) {
	dir := filepath.Join(cp.Dir, ns, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Agent{Namespace: ns, Name: name, IP: ip, Dir: dir, bin: cp.Tools.Agent,
		Data: agentclient.NewData(net.JoinHostPort(ip, strconv.Itoa(agentapi.DataPort)), nil)}, nil
}

// WriteTLS waits for the operator to issue the namespace's agent Secret
// and writes it to the agent's files, as the pod's volume mount would.
func (cp *ControlPlane) WriteTLS(ctx context.Context, a *Agent, timeout time.Duration) error {
	var s corev1.Secret
	err := Poll(ctx, timeout, func() error {
		return cp.Client.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: v1alpha1.AgentTLSSecret}, &s)
	})
	if err != nil {
		return fmt.Errorf("the operator issued no Secret %s in %s: %w", v1alpha1.AgentTLSSecret, a.Namespace, err)
	}
	for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, "ca.crt"} {
		if len(s.Data[k]) == 0 {
			return fmt.Errorf("secret %s/%s has no %s", a.Namespace, v1alpha1.AgentTLSSecret, k)
		}
		if err := os.WriteFile(filepath.Join(a.Dir, k), s.Data[k], 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Start starts the agent process (TLS files must be written) and waits
// until it answers /healthz. A port already taken on its address fails
// at once with a message saying so.
func (a *Agent) Start(ctx context.Context) error {
	ports := map[string]int{"admin": agentapi.AdminPort, "data": agentapi.DataPort, "probe": agentapi.ProbePort}
	for what, port := range ports {
		addr := net.JoinHostPort(a.IP, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("agent %s cannot bind its %s port %s (taken by another process, or the address is not on loopback): %w", a.Name, what, addr, err)
		}
		_ = l.Close()
	}
	hp := func(p int) string { return net.JoinHostPort(a.IP, strconv.Itoa(p)) }
	args := []string{
		"--data-addr=" + hp(agentapi.DataPort), "--admin-addr=" + hp(agentapi.AdminPort), "--probe-addr=" + hp(agentapi.ProbePort),
		"--tls-cert=" + filepath.Join(a.Dir, corev1.TLSCertKey), "--tls-key=" + filepath.Join(a.Dir, corev1.TLSPrivateKeyKey),
		"--client-ca=" + filepath.Join(a.Dir, "ca.crt"), "--client-uri=" + v1alpha1.OperatorURI,
	}
	if a.Bootstrap != "" {
		args = append(args, "--bootstrap-policy="+a.Bootstrap)
	}
	p, err := StartProcess("agent "+a.Name, a.bin, args, filepath.Join(a.Dir, "agent.log"))
	if err != nil {
		return err
	}
	a.Proc = p
	url := "http://" + hp(agentapi.ProbePort) + "/healthz"
	err = Poll(ctx, 30*time.Second, func() error {
		if exited, err := p.Exited(); exited {
			return fmt.Errorf("%w: %v", errExited, err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	})
	if err != nil {
		p.Kill()
		return fmt.Errorf("agent %s did not come up: %w\n%s", a.Name, err, p.LogTail(20))
	}
	return nil
}

// Kill kills the agent process, if it runs; its Pod stays.
func (a *Agent) Kill() {
	if a.Proc != nil {
		a.Proc.Kill()
	}
}

// Register creates the agent's Pod with labels and sets its status to
// Running and Ready with the agent's IP, as a kubelet would.
func (cp *ControlPlane) Register(ctx context.Context, a *Agent, labels map[string]string) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: a.Namespace, Name: a.Name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app"}}},
	}
	if err := cp.Client.Create(ctx, pod); err != nil {
		return fmt.Errorf("create pod %s: %w", a.Name, err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: a.IP, PodIPs: []corev1.PodIP{{IP: a.IP}}, StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
	if err := cp.Client.Status().Update(ctx, pod); err != nil {
		return fmt.Errorf("set the status of pod %s: %w", a.Name, err)
	}
	return nil
}

// AdminClient returns a client of an agent's admin API that authenticates
// as the operator, with the operator's client certificate (Secret
// layercache-operator-tls) and the agents' CA (from the namespace's agent
// Secret). Tests use it to read what an agent says about itself.
func (cp *ControlPlane) AdminClient(ctx context.Context, a *Agent) (*agentclient.Admin, error) {
	var op, ag corev1.Secret
	if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: OperatorNamespace, Name: pki.DefaultOperatorSecret}, &op); err != nil {
		return nil, err
	}
	if err := cp.Client.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: v1alpha1.AgentTLSSecret}, &ag); err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(op.Data[corev1.TLSCertKey], op.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("operator certificate: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ag.Data["ca.crt"]) {
		return nil, errors.New("the agent Secret's ca.crt holds no certificate")
	}
	return agentclient.NewAdmin(net.JoinHostPort(a.IP, strconv.Itoa(agentapi.AdminPort)), agentclient.TLSConfig(roots, cert), nil), nil
}
