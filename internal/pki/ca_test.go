package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/pki"
)

// t0 is a fixed "now" for the pure tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func mustCA(t *testing.T, now time.Time, validity time.Duration) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(now, validity)
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func parseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("no PEM certificate in %q", certPEM)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func TestNewCA(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		validity time.Duration
		wantErr  bool
	}{
		{"a two-year CA", 2 * 365 * 24 * time.Hour, false},
		{"a one-hour CA", time.Hour, false},
		{"zero validity is refused", 0, true},
		{"negative validity is refused", -time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ca, err := pki.NewCA(t0, tc.validity)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("NewCA(%s): no error", tc.validity)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewCA(%s): %v", tc.validity, err)
			}
			c := parseCert(t, ca.CertPEM())
			if !c.IsCA || !c.BasicConstraintsValid || !c.MaxPathLenZero || c.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Errorf("CA constraints: IsCA=%v basic=%v maxPathZero=%v usage=%v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLenZero, c.KeyUsage)
			}
			if want := t0.Add(-pki.ClockSkew); !c.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %s, want %s", c.NotBefore, want)
			}
			if want := t0.Add(tc.validity); !c.NotAfter.Equal(want) {
				t.Errorf("NotAfter = %s, want %s", c.NotAfter, want)
			}
			if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
				t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %s is not a positive 128-bit number", c.SerialNumber)
			}
			if _, err := c.Verify(x509.VerifyOptions{Roots: poolOf(c), CurrentTime: t0}); err != nil {
				t.Errorf("the CA does not verify itself: %v", err)
			}
			if !strings.HasPrefix(string(ca.KeyPEM()), "-----BEGIN PRIVATE KEY-----") {
				t.Errorf("key is not PKCS #8 PEM")
			}
		})
	}
}

func TestNewCAsAreDistinct(t *testing.T) {
	t.Parallel()
	a, b := parseCert(t, mustCA(t, t0, time.Hour).CertPEM()), parseCert(t, mustCA(t, t0, time.Hour).CertPEM())
	if a.SerialNumber.Cmp(b.SerialNumber) == 0 {
		t.Error("two CAs share a serial number")
	}
	// The operator picks its certificate by issuer name: a renewed CA
	// must not share its predecessor's.
	if string(a.RawSubject) == string(b.RawSubject) {
		t.Errorf("two CAs share the subject %q", a.Subject)
	}
}

func TestParseCA(t *testing.T) {
	t.Parallel()
	ca := mustCA(t, t0, time.Hour)
	other := mustCA(t, t0, time.Hour)
	leafPEM, leafKey, err := ca.IssueServer(t0, time.Hour, "leaf", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		cert, key    []byte
		wantErrMatch string
	}{
		{"its own PEM round-trips", ca.CertPEM(), ca.KeyPEM(), ""},
		{"another CA's key is refused", ca.CertPEM(), other.KeyPEM(), "does not match"},
		{"a leaf certificate is refused", leafPEM, leafKey, "not a CA"},
		{"a missing certificate is refused", nil, ca.KeyPEM(), "no PEM certificate"},
		{"a missing key is refused", ca.CertPEM(), nil, "no PEM private key"},
		{"a damaged certificate is refused", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), ca.KeyPEM(), "parse certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := pki.ParseCA(tc.cert, tc.key)
			if tc.wantErrMatch != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrMatch) {
					t.Fatalf("ParseCA error = %v, want one containing %q", err, tc.wantErrMatch)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCA: %v", err)
			}
			if string(got.CertPEM()) != string(ca.CertPEM()) {
				t.Error("the parsed CA has another certificate")
			}
		})
	}
}

func TestIssue(t *testing.T) {
	t.Parallel()
	ca := mustCA(t, t0, 365*24*time.Hour)
	caCert := parseCert(t, ca.CertPEM())
	day := 24 * time.Hour
	type issueFunc func() ([]byte, []byte, error)
	for _, tc := range []struct {
		name         string
		issue        issueFunc
		wantErr      bool
		usage        x509.ExtKeyUsage
		wantNotAfter time.Time
		check        func(t *testing.T, c *x509.Certificate)
	}{
		{
			name: "a webhook server certificate carries its DNS names",
			issue: func() ([]byte, []byte, error) {
				return ca.IssueServer(t0, 90*day, "wh.ns.svc", []string{"wh.ns.svc", "wh.ns.svc.cluster.local"})
			},
			usage:        x509.ExtKeyUsageServerAuth,
			wantNotAfter: t0.Add(90 * day),
			check: func(t *testing.T, c *x509.Certificate) {
				if strings.Join(c.DNSNames, ",") != "wh.ns.svc,wh.ns.svc.cluster.local" || c.Subject.CommonName != "wh.ns.svc" {
					t.Errorf("names = %q, CN %q", c.DNSNames, c.Subject.CommonName)
				}
			},
		},
		{
			name:         "an agent server certificate has no SANs",
			issue:        func() ([]byte, []byte, error) { return ca.IssueServer(t0, 90*day, "layercache-agent", nil) },
			usage:        x509.ExtKeyUsageServerAuth,
			wantNotAfter: t0.Add(90 * day),
			check: func(t *testing.T, c *x509.Certificate) {
				if len(c.DNSNames)+len(c.IPAddresses)+len(c.URIs)+len(c.EmailAddresses) != 0 {
					t.Errorf("SANs: %v %v %v %v", c.DNSNames, c.IPAddresses, c.URIs, c.EmailAddresses)
				}
			},
		},
		{
			name:         "a client certificate carries its URI SAN",
			issue:        func() ([]byte, []byte, error) { return ca.IssueClient(t0, 90*day, "op", v1alpha1.OperatorURI) },
			usage:        x509.ExtKeyUsageClientAuth,
			wantNotAfter: t0.Add(90 * day),
			check: func(t *testing.T, c *x509.Certificate) {
				if len(c.URIs) != 1 || c.URIs[0].String() != v1alpha1.OperatorURI {
					t.Errorf("URIs = %v", c.URIs)
				}
			},
		},
		{
			name:         "a leaf never outlives its CA",
			issue:        func() ([]byte, []byte, error) { return ca.IssueServer(t0, 1000*day, "long", nil) },
			usage:        x509.ExtKeyUsageServerAuth,
			wantNotAfter: caCert.NotAfter,
		},
		{
			name:    "a relative URI is refused",
			issue:   func() ([]byte, []byte, error) { return ca.IssueClient(t0, day, "op", "operator") },
			wantErr: true,
		},
		{
			name:    "zero validity is refused",
			issue:   func() ([]byte, []byte, error) { return ca.IssueServer(t0, 0, "x", nil) },
			wantErr: true,
		},
		{
			name:    "an expired CA issues nothing",
			issue:   func() ([]byte, []byte, error) { return ca.IssueServer(caCert.NotAfter, day, "x", nil) },
			wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			certPEM, keyPEM, err := tc.issue()
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := parseCert(t, certPEM)
			if !strings.HasPrefix(string(keyPEM), "-----BEGIN PRIVATE KEY-----") {
				t.Error("key is not PKCS #8 PEM")
			}
			if want := t0.Add(-pki.ClockSkew); !c.NotBefore.Equal(want) {
				t.Errorf("NotBefore = %s, want %s (backdated)", c.NotBefore, want)
			}
			if !c.NotAfter.Equal(tc.wantNotAfter) {
				t.Errorf("NotAfter = %s, want %s", c.NotAfter, tc.wantNotAfter)
			}
			if c.IsCA || c.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("IsCA=%v KeyUsage=%v; want a leaf for digital signatures only", c.IsCA, c.KeyUsage)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %s is not a positive 128-bit number", c.SerialNumber)
			}
			opts := x509.VerifyOptions{Roots: poolOf(caCert), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{tc.usage}}
			if _, err := c.Verify(opts); err != nil {
				t.Errorf("does not verify for its usage: %v", err)
			}
			other := x509.ExtKeyUsageClientAuth
			if tc.usage == other {
				other = x509.ExtKeyUsageServerAuth
			}
			opts.KeyUsages = []x509.ExtKeyUsage{other}
			if _, err := c.Verify(opts); err == nil {
				t.Errorf("also verifies for the other usage")
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}
