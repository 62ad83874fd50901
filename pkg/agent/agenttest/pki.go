// Package agenttest helps test programs that talk to the agent, such as the
// operator, and programs that embed it: it makes real X.509 material for
// the admin API's mutual TLS with crypto/x509 (no fixtures, no insecure
// mode). Certificates are valid for an hour. Like net/http/httptest, it is
// meant for tests only; its functions fail the test on error.
package agenttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"
)

// CA is a certificate authority made for one test.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// Pool holds Cert, for ClientCAs and RootCAs.
	Pool *x509.CertPool
}

// NewCA returns a self-signed CA named name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create CA: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, Key: key, Pool: pool}
}

// Issue returns a leaf certificate for usage, with the SANs given.
func (ca *CA) Issue(t testing.TB, cn string, usage x509.ExtKeyUsage, ips []net.IP, uris []*url.URL) tls.Certificate {
	t.Helper()
	key := newKey(t)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
		URIs:         uris,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatalf("issue %s: %v", cn, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// OperatorURI is the URI SAN of PKI.ClientCert.
const OperatorURI = "spiffe://layercache/operator"

// PKI is the TLS material of one test: the agent's server configuration
// (client certificates required, verified against CA) and an operator
// client certificate, both from CA.
type PKI struct {
	CA         *CA
	Server     *tls.Config
	ClientCert tls.Certificate
}

// NewPKI returns a PKI whose server certificate is valid for 127.0.0.1.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca := NewCA(t, "layercache test CA")
	serverCert := ca.Issue(t, "agent", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)}, nil)
	operator, err := url.Parse(OperatorURI)
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{
		CA: ca,
		Server: &tls.Config{
			MinVersion:   tls.VersionTLS13,
			Certificates: []tls.Certificate{serverCert},
			ClientCAs:    ca.Pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
		},
		ClientCert: ca.Issue(t, "operator", x509.ExtKeyUsageClientAuth, nil, []*url.URL{operator}),
	}
}
