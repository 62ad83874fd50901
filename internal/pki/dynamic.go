package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Defaults and limits of Source.
const (
	// DefaultTTL is how long a Source keeps what it read from a Secret.
	DefaultTTL = time.Minute
	// refreshFloor is the youngest a cached bundle may be to be read
	// again early, after it failed to verify an agent: a rotation is seen
	// at once, while a stranger's handshakes cannot flood the API server.
	refreshFloor = 5 * time.Second
	// readTimeout bounds a Secret read made during a handshake, which
	// must not hang on a slow API server.
	readTimeout = 10 * time.Second
)

// Source serves the TLS material of the running operator straight from
// the Secrets the Rotator writes, so every replica follows a rotation
// without a restart. Reads are cached for TTL; when a read fails, the
// last good material keeps being used. It is safe for concurrent use; it
// must not be copied after first use.
//
// Before the Rotator has written the Secrets (the first start of the
// operator), handshakes fail with an error saying so; they succeed as soon
// as the Secrets exist.
type Source struct {
	// Reader reads the Secrets. Give it an uncached reader (the manager's
	// GetAPIReader): only a few Secrets are read, once per TTL.
	//
	// default: none; required
	Reader client.Reader

	// Namespace is the operator's namespace, where the Secrets live.
	//
	// default: none; required
	Namespace string

	// CASecret, OperatorSecret and WebhookSecret name the Secrets, as for
	// the Rotator.
	//
	// default: DefaultCASecret, DefaultOperatorSecret, DefaultWebhookSecret
	CASecret, OperatorSecret, WebhookSecret string

	// TTL is how long what was read from a Secret is used before it is
	// read again.
	//
	// default: DefaultTTL (1 minute)
	TTL time.Duration

	bundle   cached[*x509.CertPool]
	operator cached[[]tls.Certificate]
	webhook  cached[*tls.Certificate]
}

// ClientTLS returns the operator's client configuration for agents (use
// it in place of agentconn.ClientTLS). It presents the operator's current
// client certificate or, to an agent whose bundle still predates a CA
// rotation, the previous one: the agent announces the CAs it trusts in the
// handshake. It accepts an agent whose certificate chains to the current
// CA bundle, with ExtKeyUsageServerAuth, whatever names it carries (as
// agentconn.ClientTLS: pod IPs change, the chain is the identity).
func (s *Source) ClientTLS() *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: s.clientCertificate,
		// The chain is verified in VerifyConnection, without the host
		// name: agents are reached by pod IP and their certificates carry
		// no names.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection against the CA bundle
		VerifyConnection:   s.verifyAgent,
	}
}

// GetWebhookCertificate returns the webhook's current serving
// certificate. It fits tls.Config.GetCertificate, for example through
// controller-runtime's webhook.Options.TLSOpts.
func (s *Source) GetWebhookCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	var ctx context.Context
	if hello != nil {
		ctx = hello.Context()
	}
	return s.webhook.get(time.Now(), s.ttl(), func() (*tls.Certificate, error) {
		data, err := s.read(ctx, s.WebhookSecret, DefaultWebhookSecret)
		if err != nil {
			return nil, err
		}
		pair, err := keyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
		if err != nil {
			return nil, fmt.Errorf("pki: webhook certificate: %w", err)
		}
		return &pair, nil
	})
}

// clientCertificate picks the operator certificate to present.
func (s *Source) clientCertificate(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	now := time.Now()
	certs, err := s.operator.get(now, s.ttl(), func() ([]tls.Certificate, error) {
		return s.loadOperator(orBackground(cri.Context()))
	})
	if err != nil {
		return nil, err
	}
	for i := range certs {
		c := &certs[i]
		if now.Before(c.Leaf.NotAfter) && cri.SupportsCertificate(c) == nil {
			return c, nil
		}
	}
	// No match (an agent trusting none of our CAs): present the current
	// one, so that the agent's refusal names the problem.
	return &certs[0], nil
}

// loadOperator reads the current operator certificate and, if there is
// one, the previous.
func (s *Source) loadOperator(ctx context.Context) ([]tls.Certificate, error) {
	data, err := s.read(ctx, s.OperatorSecret, DefaultOperatorSecret)
	if err != nil {
		return nil, err
	}
	cur, err := keyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("pki: operator certificate: %w", err)
	}
	certs := []tls.Certificate{cur}
	// The previous certificate is a convenience for the rotation window;
	// a damaged one is ignored.
	if prev, err := keyPair(data[KeyPreviousCert], data[KeyPreviousKey]); err == nil {
		certs = append(certs, prev)
	}
	return certs, nil
}

// verifyAgent verifies the agent's chain against the CA bundle. If that
// fails with a bundle read a while ago, it reads the bundle again and
// retries once: the agent may already serve a certificate from a CA the
// Rotator has just created.
func (s *Source) verifyAgent(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("pki: the agent presented no certificate")
	}
	opts := x509.VerifyOptions{Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	var err error
	for _, maxAge := range []time.Duration{s.ttl(), refreshFloor} {
		if opts.Roots, err = s.bundlePool(maxAge); err != nil {
			return err
		}
		if _, err = cs.PeerCertificates[0].Verify(opts); err == nil {
			return nil
		}
	}
	return fmt.Errorf("pki: agent certificate: %w", err)
}

// bundlePool returns the CA bundle, read again if older than maxAge.
// VerifyConnection has no context: the read gets its own deadline.
func (s *Source) bundlePool(maxAge time.Duration) (*x509.CertPool, error) {
	return s.bundle.get(time.Now(), maxAge, func() (*x509.CertPool, error) {
		data, err := s.read(context.Background(), s.CASecret, DefaultCASecret)
		if err != nil {
			return nil, err
		}
		pool, ok := poolOf(data[KeyBundle])
		if !ok {
			return nil, fmt.Errorf("pki: Secret %s/%s has no CA certificate in %s", s.Namespace, orDefault(s.CASecret, DefaultCASecret), KeyBundle)
		}
		return pool, nil
	})
}

// read returns the data of the Secret name (def when empty). A nil ctx
// (a handshake without one) is bounded by readTimeout.
func (s *Source) read(ctx context.Context, name, def string) (map[string][]byte, error) {
	name = orDefault(name, def)
	switch {
	case s.Reader == nil:
		return nil, errors.New("pki: Source.Reader is nil")
	case s.Namespace == "":
		return nil, errors.New("pki: Source.Namespace is empty")
	case s.TTL < 0:
		return nil, fmt.Errorf("pki: Source.TTL is %s; it must not be negative", s.TTL)
	}
	ctx, cancel := context.WithTimeout(orBackground(ctx), readTimeout)
	defer cancel()
	var sec corev1.Secret
	err := s.Reader.Get(ctx, types.NamespacedName{Namespace: s.Namespace, Name: name}, &sec)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("pki: Secret %s/%s does not exist yet: the operator's certificate rotator creates it when it runs as leader", s.Namespace, name)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: read Secret %s/%s: %w", s.Namespace, name, err)
	}
	return sec.Data, nil
}

// ttl is TTL or its default (a negative TTL fails in read).
func (s *Source) ttl() time.Duration {
	if s.TTL <= 0 {
		return DefaultTTL
	}
	return s.TTL
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
