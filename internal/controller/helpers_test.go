package controller

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentclient"
	"github.com/layercache/layercache/pkg/agent/agenttest"
)

// testAgent is a real agent (pkg/agent) serving on loopback, standing in
// for the sidecar of one pod.
type testAgent struct {
	agent     *agent.Agent
	adminPort int
	data      *agentclient.Data
	admin     *agentclient.Admin
	stop      func()
}

// startAgent starts an agent with an insecure admin API (the controller
// tests are about reconciling; mutual TLS is tested in agentconn) and stops
// it when the test ends.
func startAgent(t *testing.T, opts agent.Options) *testAgent {
	t.Helper()
	opts.InsecureAdmin = true
	ra := agenttest.Start(t, opts)
	ta := &testAgent{agent: ra.Agent, stop: ra.Stop,
		data: agentclient.NewData(ra.DataAddr, nil), admin: agentclient.NewAdmin(ra.AdminAddr, nil, nil)}
	_, port, _ := net.SplitHostPort(ra.AdminAddr)
	ta.adminPort, _ = strconv.Atoi(port)
	t.Cleanup(ta.data.Close)
	t.Cleanup(ta.admin.Close)
	if _, err := ta.admin.Status(context.Background()); err != nil {
		t.Fatalf("first status call: %v", err)
	}
	return ta
}

func listen(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, ln.Addr().String()
}

// createPod registers a running, ready Pod whose agent listens on
// adminPort of 127.0.0.1. There is no kubelet: the test sets the status.
func createPod(t *testing.T, ns, name string, lbls map[string]string, adminPort int) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, Labels: lbls,
			Annotations: map[string]string{v1alpha1.AnnotationAdminPort: strconv.Itoa(adminPort)},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app"}}},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning,
		PodIP: "127.0.0.1",
		Conditions: []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now(),
		}},
	}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatalf("set pod %s status: %v", name, err)
	}
	return pod
}

// fleet is n agents, each behind a Pod labelled app=<app>.
type fleet struct {
	agents map[string]*testAgent // by pod name
	pods   []*corev1.Pod
}

func startFleet(t *testing.T, ns, app string, n int, opts agent.Options) *fleet {
	t.Helper()
	f := &fleet{agents: map[string]*testAgent{}}
	for i := range n {
		a := startAgent(t, opts)
		name := app + "-" + strconv.Itoa(i)
		f.pods = append(f.pods, createPod(t, ns, name, map[string]string{"app": app}, a.adminPort))
		f.agents[name] = a
	}
	return f
}

// mustBeRejected creates obj (with a generated name) and fails unless the
// API server refuses it with an error that mentions want.
func mustBeRejected(t *testing.T, obj client.Object, what, want string) {
	t.Helper()
	obj.SetName("")
	obj.SetGenerateName("bad-")
	err := k8s.Create(context.Background(), obj)
	if err == nil {
		t.Fatalf("the API server accepted %s", what)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not mention %q", err, want)
	}
}
