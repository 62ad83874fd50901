package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// Defaults applied to zero Options fields, and server timeouts.
const (
	// DefaultMaxValueBytes is Options.MaxValueBytes when it is 0.
	DefaultMaxValueBytes = 4 << 20
	// DefaultShutdownTimeout is Options.ShutdownTimeout when it is 0.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultReadHeaderTimeout bounds how long every server waits for a
	// request's headers (slowloris protection).
	DefaultReadHeaderTimeout = 3 * time.Second
	// DefaultIdleTimeout closes keep-alive connections idle this long.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultDegradeFor is how long the cache skips a layer that failed.
	DefaultDegradeFor = 5 * time.Second
)

// Options configures an Agent. Only the admin API's security is required:
// AdminTLS, or InsecureAdmin. New does not modify the Options.
type Options struct {
	// BootstrapFile is a JSON agentapi.Policy read and validated by New:
	// the policy the agent starts with (a mounted ConfigMap). It conflicts
	// with Policy.
	//
	// default: none (Policy, or the zero Policy: a memory layer only)
	BootstrapFile string

	// Policy is the policy to start with, for programs that embed the
	// agent. It conflicts with BootstrapFile. New copies it.
	//
	// default: the zero Policy
	Policy *agentapi.Policy

	// DataAddr, AdminAddr and ProbeAddr are the listen addresses of the
	// three servers; a Listener of the same server overrides its address.
	//
	// default: agentapi.DefaultDataAddr, DefaultAdminAddr, DefaultProbeAddr
	DataAddr, AdminAddr, ProbeAddr string

	// DataListener, AdminListener and ProbeListener, when set, are used
	// instead of listening on the addresses. Start closes them.
	//
	// default: nil (listen on the addresses)
	DataListener, AdminListener, ProbeListener net.Listener

	// AdminTLS secures the admin API. Its ClientAuth must be
	// tls.RequireAndVerifyClientCert, and it must have ClientCAs (or
	// GetConfigForClient) and a certificate (Certificates, GetCertificate
	// or GetConfigForClient). The agent uses a clone.
	//
	// default: none; required unless InsecureAdmin
	AdminTLS *tls.Config

	// InsecureAdmin serves the admin API over plain HTTP with no
	// authentication. For development only; it conflicts with AdminTLS.
	//
	// default: false
	InsecureAdmin bool

	// AuthorizeAdmin, when set, is called with the verified client
	// certificate of every admin request; an error refuses the request
	// with 403. Use it to pin the operator's identity (a URI SAN) on top
	// of the CA check. It must be safe for concurrent use.
	//
	// default: nil (any certificate the CA verifies is accepted)
	AuthorizeAdmin func(cert *x509.Certificate) error

	// HTTPClient makes the requests to origins; each origin's timeout
	// applies on top of it.
	//
	// default: a client with its own transport, closed when Start returns
	HTTPClient *http.Client

	// Logger receives the agent's logs.
	//
	// default: no logging
	Logger *slog.Logger

	// MaxValueBytes bounds one value: a PUT body, an item of a bulk
	// write, an origin's response. Larger ones are refused with 413
	// (a 502 for origins).
	//
	// default: 4 MiB (DefaultMaxValueBytes)
	MaxValueBytes int64

	// ShutdownTimeout bounds the graceful shutdown when Start's context
	// ends: the servers' in-flight requests, then closing the cache.
	//
	// default: 10 seconds (DefaultShutdownTimeout)
	ShutdownTimeout time.Duration

	// Version is reported as Status.AgentVersion.
	//
	// default: ""
	Version string
}

// resolve validates o and fills in defaults. It never adjusts a value the
// caller set; an invalid one is an error naming the field.
func (o Options) resolve() (Options, error) {
	if o.BootstrapFile != "" && o.Policy != nil {
		return o, errors.New("agent: Options.BootstrapFile and Options.Policy are both set; choose one")
	}
	if err := checkAdminTLS(o.AdminTLS, o.InsecureAdmin); err != nil {
		return o, err
	}
	if o.AuthorizeAdmin != nil && o.AdminTLS == nil {
		return o, errors.New("agent: Options.AuthorizeAdmin needs Options.AdminTLS: without TLS there is no client certificate")
	}
	if o.MaxValueBytes < 0 {
		return o, fmt.Errorf("agent: Options.MaxValueBytes is %d; it must not be negative", o.MaxValueBytes)
	}
	if o.ShutdownTimeout < 0 {
		return o, fmt.Errorf("agent: Options.ShutdownTimeout is %s; it must not be negative", o.ShutdownTimeout)
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.DataAddr == "" {
		o.DataAddr = agentapi.DefaultDataAddr
	}
	if o.AdminAddr == "" {
		o.AdminAddr = agentapi.DefaultAdminAddr
	}
	if o.ProbeAddr == "" {
		o.ProbeAddr = agentapi.DefaultProbeAddr
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func checkAdminTLS(c *tls.Config, insecure bool) error {
	switch {
	case c == nil && !insecure:
		return errors.New("agent: Options.AdminTLS is nil: the admin API needs TLS with client certificates " +
			"(set Options.InsecureAdmin to serve it without, for development only)")
	case c != nil && insecure:
		return errors.New("agent: Options.AdminTLS and Options.InsecureAdmin are both set; choose one")
	case c == nil:
		return nil
	case c.ClientAuth != tls.RequireAndVerifyClientCert:
		return fmt.Errorf("agent: Options.AdminTLS.ClientAuth is %s; it must be RequireAndVerifyClientCert", c.ClientAuth)
	case c.ClientCAs == nil && c.GetConfigForClient == nil:
		return errors.New("agent: Options.AdminTLS has no ClientCAs (nor GetConfigForClient) to verify client certificates with")
	case len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil:
		return errors.New("agent: Options.AdminTLS has no certificate (Certificates, GetCertificate or GetConfigForClient)")
	}
	return nil
}
