package agentconn_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layercache/layercache/internal/agentconn"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentclient"
	"github.com/layercache/layercache/pkg/agent/agenttest"
)

func pod(ip string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-0", Annotations: annotations},
		Status:     corev1.PodStatus{PodIP: ip},
	}
}

func TestPodAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		pod        *corev1.Pod
		policyPort int32
		want       string
		wantErr    string
	}{
		{"the default admin port", pod("10.0.0.7", nil), 0, "10.0.0.7:7443", ""},
		{"the policy's port", pod("10.0.0.7", nil), 9443, "10.0.0.7:9443", ""},
		{"the pod's annotation wins", pod("10.0.0.7", map[string]string{"cache.layercache.io/admin-port": "8443"}), 9443, "10.0.0.7:8443", ""},
		{"an IPv6 pod", pod("fd00::7", nil), 0, "[fd00::7]:7443", ""},
		{"a pod without an IP", pod("", nil), 0, "", "no IP address"},
		{"a bad annotation", pod("10.0.0.7", map[string]string{"cache.layercache.io/admin-port": "http"}), 0, "", "is not a port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := agentconn.PodAddress(tt.pod, tt.policyPort)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PodAddress = %q, %v; want an error mentioning %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("PodAddress = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRetryableOnlyForNetworkErrorsAnd5xx(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("dial tcp: connection refused"), true},
		{&agentclient.Error{StatusCode: 503}, true},
		{&agentclient.Error{StatusCode: 422}, false},
		{&agentclient.Error{StatusCode: 409}, false},
	}
	for _, tt := range tests {
		if got := agentconn.Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// startTLSAgent runs a real agent whose admin API requires a client
// certificate from pki's CA, and returns its port.
func startTLSAgent(t *testing.T, pki *agenttest.PKI) int {
	t.Helper()
	ra := agenttest.Start(t, agent.Options{AdminTLS: pki.Server})
	_, port, _ := net.SplitHostPort(ra.AdminAddr)
	p, _ := strconv.Atoi(port)
	return p
}

func TestDialerSpeaksMutualTLSAndChecksTheAgentsCA(t *testing.T) {
	t.Parallel()
	pki := agenttest.NewPKI(t)
	port := startTLSAgent(t, pki)
	p := pod("127.0.0.1", map[string]string{"cache.layercache.io/admin-port": strconv.Itoa(port)})

	good := agentconn.NewDialer(agentconn.ClientTLS(pki.CA.Pool, pki.ClientCert), nil)
	t.Cleanup(good.Close)
	admin, err := good.For(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := admin.Status(context.Background()); err != nil || st.SessionID == "" {
		t.Fatalf("Status over mTLS = %+v, %v; want an answer", st, err)
	}

	// An agent whose certificate another CA signed is not trusted.
	other := agenttest.NewPKI(t)
	wrong := agentconn.NewDialer(agentconn.ClientTLS(other.CA.Pool, pki.ClientCert), nil)
	t.Cleanup(wrong.Close)
	admin, _ = wrong.For(p, 0)
	if _, err := admin.Status(context.Background()); err == nil || !strings.Contains(err.Error(), "agent certificate") {
		t.Fatalf("Status against an agent of another CA = %v, want a certificate error", err)
	}

	// An operator certificate from another CA is refused by the agent.
	stranger := agentconn.NewDialer(agentconn.ClientTLS(pki.CA.Pool, other.ClientCert), nil)
	t.Cleanup(stranger.Close)
	admin, _ = stranger.For(p, 0)
	if _, err := admin.Status(context.Background()); err == nil {
		t.Fatal("the agent accepted a client certificate from another CA")
	}
}
