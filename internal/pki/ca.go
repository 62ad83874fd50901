package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"time"
)

// ClockSkew is how far before "now" every certificate's NotBefore is
// set, so that a peer whose clock runs a little behind accepts a
// certificate issued a moment ago.
const ClockSkew = 5 * time.Minute

// caOrganization is the O of every CA's subject. The CN adds a random
// suffix: a renewed CA must have a subject of its own, because the
// operator picks its client certificate by the issuer names an agent
// announces as acceptable (see Source.ClientTLS).
const caOrganization = "layercache"

// CA is a certificate authority: a self-signed ECDSA P-256 certificate
// and its key. It is immutable and safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// NewCA returns a new CA valid from now (less ClockSkew) for validity. It
// may only sign leaves, not intermediate CAs.
func NewCA(now time.Time, validity time.Duration) (*CA, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("pki: new CA: validity %s is not positive", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: new CA: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("pki: new CA: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{caOrganization},
			CommonName:   "layercache CA " + fmt.Sprintf("%032x", serial)[:8],
		},
		NotBefore:             now.Add(-ClockSkew),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true, // leaves only: nothing chains through an intermediate
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: new CA: sign: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: new CA: %w", err)
	}
	return ParseCA(encodeCert(der), keyPEM)
}

// ParseCA reads a CA from PEM: the first certificate of certPEM, which
// must be a CA certificate allowed to sign certificates, and the first
// private key of keyPEM (PKCS #8 or SEC 1), which must match it.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := firstCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CA certificate: %w", err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("pki: parse CA: %q is not a CA certificate allowed to sign certificates", cert.Subject)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CA key: %w", err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("pki: parse CA: the private key does not match the certificate")
	}
	return &CA{cert: cert, key: key, certPEM: encodeCert(cert.Raw), keyPEM: bytes.Clone(keyPEM)}, nil
}

// CertPEM returns the CA certificate in PEM. The caller owns the slice.
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.certPEM) }

// KeyPEM returns the CA's private key in PEM. The caller owns the slice.
func (ca *CA) KeyPEM() []byte { return bytes.Clone(ca.keyPEM) }

// Certificate returns the parsed CA certificate. The caller must not
// modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// IssueServer returns a serving certificate (ExtKeyUsageServerAuth) and
// its new ECDSA P-256 key, in PEM, for commonName and dnsNames (which may
// be empty: see the package documentation about agents). It is valid
// from now (less ClockSkew) for validity, but never beyond the CA.
func (ca *CA) IssueServer(now time.Time, validity time.Duration, commonName string, dnsNames []string) (certPEM, keyPEM []byte, err error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		DNSNames:    dnsNames,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	certPEM, keyPEM, err = ca.issue(now, validity, tmpl)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue server certificate %q: %w", commonName, err)
	}
	return certPEM, keyPEM, nil
}

// IssueClient returns a client certificate (ExtKeyUsageClientAuth) and
// its new ECDSA P-256 key, in PEM, for commonName, with uri (an absolute
// URI such as v1alpha1.OperatorURI) as its only SAN: the identity a peer
// authorizes. Validity is as for IssueServer.
func (ca *CA) IssueClient(now time.Time, validity time.Duration, commonName, uri string) (certPEM, keyPEM []byte, err error) {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() {
		return nil, nil, fmt.Errorf("pki: issue client certificate %q: URI SAN %q is not an absolute URI", commonName, uri)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		URIs:        []*url.URL{u},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	certPEM, keyPEM, err = ca.issue(now, validity, tmpl)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue client certificate %q: %w", commonName, err)
	}
	return certPEM, keyPEM, nil
}

// issue completes tmpl (serial, validity, key usage) and signs it.
func (ca *CA) issue(now time.Time, validity time.Duration, tmpl *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	if validity <= 0 {
		return nil, nil, fmt.Errorf("validity %s is not positive", validity)
	}
	notAfter := now.Add(validity)
	// A leaf outliving its CA would be refused anyway; say so in the
	// certificate, so that NeedsRenewal sees its real lifetime.
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	if !notAfter.After(now) {
		return nil, nil, fmt.Errorf("the CA expired at %s", ca.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, nil, err
	}
	tmpl.NotBefore = now.Add(-ClockSkew)
	tmpl.NotAfter = notAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature // ECDSA: no key encipherment
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return nil, nil, err
	}
	return encodeCert(der), keyPEM, nil
}

// newSerial returns a random serial number of 128 bits, as the CA/Browser
// Forum asks (at least 64 bits of entropy), and never zero.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(rand.Reader, limit.Sub(limit, big.NewInt(1)))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
