package pki_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/pki"
	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
	"github.com/layercache/layercache/pkg/agent/agenttest"
)

// agentServerTLS is the admin API configuration cmd/agent builds from the
// files of the mounted AgentTLSSecret: its certificate, and client
// certificates required and verified against ca.crt.
func agentServerTLS(t *testing.T, s *corev1.Secret) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	must(t, err)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.Data["ca.crt"]) {
		t.Fatal("no certificate in the agent Secret's ca.crt")
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// tlsAgent is a real agent whose admin TLS material can be swapped, as
// cmd/agent reloads its files when the kubelet updates the Secret volume.
type tlsAgent struct {
	addr    string
	mounted atomic.Pointer[tls.Config]
	// issuer is the issuer of the last client certificate authorized.
	issuer atomic.Pointer[string]
}

func startTLSAgent(t *testing.T, secret *corev1.Secret) *tlsAgent {
	t.Helper()
	ta := &tlsAgent{}
	ta.mount(t, secret)
	opts := agent.Options{
		AdminTLS: &tls.Config{
			MinVersion: tls.VersionTLS13,
			ClientAuth: tls.RequireAndVerifyClientCert,
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return ta.mounted.Load(), nil
			},
		},
		// As cmd/agent with --client-uri=v1alpha1.OperatorURI.
		AuthorizeAdmin: func(c *x509.Certificate) error {
			for _, u := range c.URIs {
				if u.String() == v1alpha1.OperatorURI {
					issuer := c.Issuer.CommonName
					ta.issuer.Store(&issuer)
					return nil
				}
			}
			return fmt.Errorf("certificate %q has no URI SAN %s", c.Subject.CommonName, v1alpha1.OperatorURI)
		},
	}
	ta.addr = agenttest.Start(t, opts).AdminAddr
	return ta
}

func (ta *tlsAgent) mount(t *testing.T, s *corev1.Secret) { ta.mounted.Store(agentServerTLS(t, s)) }

// status calls the agent's admin API with cfg.
func (ta *tlsAgent) status(cfg *tls.Config) error {
	c := agentclient.NewAdmin(ta.addr, cfg, nil)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Status(ctx)
	return err
}

// lastIssuer is the CA CN of the last authorized operator certificate.
func (ta *tlsAgent) lastIssuer() string {
	if p := ta.issuer.Load(); p != nil {
		return *p
	}
	return ""
}

// staticClient presents cert and trusts any agent: only the agent's
// verdict on cert is tested.
func staticClient(t *testing.T, certPEM, keyPEM []byte) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	must(t, err)
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, //nolint:gosec // the test is about the agent's check of the client
	}
}

func caCN(t *testing.T, ns string) string {
	t.Helper()
	return parseCert(t, getSecret(t, ns, pki.DefaultCASecret).Data[pki.KeyCACert]).Subject.CommonName
}

func TestMutualTLSWithAnAgentAcrossACARotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns, appNS := newNamespace(t), newNamespace(t)
	// The handshakes run on the real clock: issue a 3-hour CA two and a
	// half hours ago, so that it is due for rotation now.
	clk := newClock(time.Now().Add(-150 * time.Minute))
	r := newRotator(ns, clk)
	r.CAValidity, r.LeafValidity = 3*time.Hour, 4*time.Hour
	must(t, r.Reconcile(ctx))
	must(t, r.EnsureAgentSecret(ctx, appNS))
	oldCA := caCN(t, ns)
	oldAgentSecret := getSecret(t, appNS, v1alpha1.AgentTLSSecret)
	ag := startTLSAgent(t, oldAgentSecret)
	operator := func() *tls.Config { return (&pki.Source{Reader: k8s, Namespace: ns}).ClientTLS() }

	if err := ag.status(operator()); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}

	clk.Set(time.Now())
	must(t, r.Reconcile(ctx))
	newCA := caCN(t, ns)
	if newCA == oldCA {
		t.Fatal("the CA was not rotated")
	}
	// The agent's Secret volume has not caught up: the operator presents
	// its previous certificate, from the CA the agent still trusts, and
	// trusts the agent's certificate from the old CA.
	if err := ag.status(operator()); err != nil {
		t.Fatalf("agent with its pre-rotation Secret: %v", err)
	}
	if got := ag.lastIssuer(); got != oldCA {
		t.Errorf("the operator presented a certificate from %q to an agent trusting only %q", got, oldCA)
	}
	// The volume is updated and the agent reloads it.
	newAgentSecret := getSecret(t, appNS, v1alpha1.AgentTLSSecret)
	ag.mount(t, newAgentSecret)
	if err := ag.status(operator()); err != nil {
		t.Fatalf("agent with the re-issued Secret: %v", err)
	}
	if got := ag.lastIssuer(); got != newCA {
		t.Errorf("the operator presented a certificate from %q, want the new CA %q", got, newCA)
	}

	t.Run("a client certificate from a foreign CA is refused", func(t *testing.T) {
		foreign := mustCA(t, time.Now(), time.Hour)
		certPEM, keyPEM, err := foreign.IssueClient(time.Now(), time.Hour, "impostor", v1alpha1.OperatorURI)
		must(t, err)
		err = ag.status(staticClient(t, certPEM, keyPEM))
		var ae *agentclient.Error
		if err == nil || errors.As(err, &ae) {
			t.Errorf("status = %v, want a refused handshake", err)
		}
	})
	t.Run("a client certificate of the CA without the operator URI is forbidden", func(t *testing.T) {
		caSecret := getSecret(t, ns, pki.DefaultCASecret)
		ca, err := pki.ParseCA(caSecret.Data[pki.KeyCACert], caSecret.Data[pki.KeyCAKey])
		must(t, err)
		certPEM, keyPEM, err := ca.IssueClient(time.Now(), time.Hour, "app", "spiffe://layercache/app")
		must(t, err)
		err = ag.status(staticClient(t, certPEM, keyPEM))
		if agentclient.CodeOf(err) != agentapi.CodeForbidden {
			t.Errorf("status = %v, want %s", err, agentapi.CodeForbidden)
		}
	})
	t.Run("an agent certificate cannot act as the operator", func(t *testing.T) {
		err := ag.status(staticClient(t, newAgentSecret.Data[corev1.TLSCertKey], newAgentSecret.Data[corev1.TLSPrivateKeyKey]))
		var ae *agentclient.Error
		if err == nil || errors.As(err, &ae) {
			t.Errorf("status = %v, want a refused handshake (server-only key usage)", err)
		}
	})
	t.Run("the operator refuses an agent of another installation", func(t *testing.T) {
		otherNS, otherApp := newNamespace(t), newNamespace(t)
		must(t, newRotator(otherNS, newClock(time.Now())).EnsureAgentSecret(ctx, otherApp))
		stranger := startTLSAgent(t, getSecret(t, otherApp, v1alpha1.AgentTLSSecret))
		err := stranger.status(operator())
		if err == nil || !strings.Contains(err.Error(), "pki: agent certificate") {
			t.Errorf("status = %v, want the operator to refuse the agent's certificate", err)
		}
	})
}

func TestSourceBeforeTheRotatorRan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	src := &pki.Source{Reader: k8s, Namespace: ns}
	cfg := src.ClientTLS()
	someCert := parseCert(t, mustCA(t, time.Now(), time.Hour).CertPEM())
	for name, call := range map[string]func() error{
		"GetWebhookCertificate": func() error { _, err := src.GetWebhookCertificate(&tls.ClientHelloInfo{}); return err },
		"GetClientCertificate":  func() error { _, err := cfg.GetClientCertificate(&tls.CertificateRequestInfo{}); return err },
		"VerifyConnection": func() error {
			return cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{someCert}})
		},
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "does not exist yet") {
			t.Errorf("%s before the Secrets exist = %v, want an error saying so", name, err)
		}
	}
	// The failures were not cached: the material is served once it exists.
	must(t, newRotator(ns, newClock(time.Now())).Reconcile(ctx))
	if _, err := src.GetWebhookCertificate(&tls.ClientHelloInfo{}); err != nil {
		t.Errorf("GetWebhookCertificate after Reconcile: %v", err)
	}
	if _, err := cfg.GetClientCertificate(&tls.CertificateRequestInfo{}); err != nil {
		t.Errorf("GetClientCertificate after Reconcile: %v", err)
	}
}

func TestSourceRefusesInvalidSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  *pki.Source
		want string
	}{
		{"no reader", &pki.Source{Namespace: "x"}, "Reader"},
		{"no namespace", &pki.Source{Reader: k8s}, "Namespace"},
		{"a negative TTL", &pki.Source{Reader: k8s, Namespace: "x", TTL: -time.Second}, "TTL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tc.src.GetWebhookCertificate(nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("GetWebhookCertificate = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
