package agent_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"testing"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
	"github.com/layercache/layercache/pkg/agent/agenttest"
)

func TestAdminRequiresAClientCertificate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := startAgent(t, agent.Options{})
	status := func(cfg *tls.Config) error {
		c := agentclient.NewAdmin(r.adminAddr, cfg, nil)
		defer c.Close()
		_, err := c.Status(ctx)
		return err
	}

	if err := status(r.clientTLS()); err != nil {
		t.Fatalf("with the operator's certificate: %v", err)
	}
	noCert := r.clientTLS()
	noCert.Certificates = nil
	if err := status(noCert); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	stranger := agenttest.NewCA(t, "another CA")
	wrongCA := agentclient.TLSConfig(r.pki.CA.Pool, stranger.Issue(t, "intruder", x509.ExtKeyUsageClientAuth, nil, nil))
	if err := status(wrongCA); err == nil {
		t.Fatal("a client certificate from another CA was accepted")
	}
	// The client refuses an agent whose certificate another CA signed.
	if err := status(agentclient.TLSConfig(stranger.Pool, r.pki.ClientCert)); err == nil {
		t.Fatal("the client accepted an agent certificate from another CA")
	}
	// Plain HTTP gets nothing from the TLS port.
	if err := status(nil); err == nil {
		t.Fatal("plain HTTP was served on the admin port")
	}
}

func TestAdminAuthorizeHook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	want := agenttest.OperatorURI
	r := startAgent(t, agent.Options{AuthorizeAdmin: func(c *x509.Certificate) error {
		for _, u := range c.URIs {
			if u.String() == want {
				return nil
			}
		}
		return errors.New("not the operator")
	}})
	if _, err := r.admin.Status(ctx); err != nil {
		t.Fatalf("operator: %v", err)
	}
	other := r.pki.CA.Issue(t, "app", x509.ExtKeyUsageClientAuth, nil, []*url.URL{{Scheme: "spiffe", Host: "layercache", Path: "/app"}})
	c := agentclient.NewAdmin(r.adminAddr, agentclient.TLSConfig(r.pki.CA.Pool, other), nil)
	defer c.Close()
	_, err := c.Status(ctx)
	mustCode(t, err, agentapi.CodeForbidden)
}

func TestNewRefusesAnUnsafeAdminAPI(t *testing.T) {
	t.Parallel()
	p := agenttest.NewPKI(t)
	noClientAuth := p.Server.Clone()
	noClientAuth.ClientAuth = tls.VerifyClientCertIfGiven
	noCAs := p.Server.Clone()
	noCAs.ClientCAs = nil
	for name, opts := range map[string]agent.Options{
		"no TLS":               {},
		"TLS and insecure":     {AdminTLS: p.Server, InsecureAdmin: true},
		"optional client cert": {AdminTLS: noClientAuth},
		"no client CAs":        {AdminTLS: noCAs},
		"both policies":        {InsecureAdmin: true, BootstrapFile: "/x", Policy: &agentapi.Policy{}},
	} {
		if _, err := agent.New(opts); err == nil {
			t.Errorf("agent.New with %s: no error", name)
		}
	}
}

func TestInsecureAdminServesPlainHTTP(t *testing.T) {
	t.Parallel()
	r := startAgent(t, agent.Options{InsecureAdmin: true})
	if st, err := r.admin.Status(context.Background()); err != nil || st.SessionID != r.agent.SessionID() {
		t.Fatalf("Status over plain HTTP = %+v, %v", st, err)
	}
}
