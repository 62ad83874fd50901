package pki

import (
	"bytes"
	"crypto/x509"
	"time"
)

// bundleFor returns the CA bundle to trust at now: current first, then
// every other certificate of previous that has not expired. After a CA
// rotation the old CA stays trusted until its own NotAfter, by which time
// every leaf it signed has expired too (leaves never outlive their CA), so
// nothing it issued is ever refused while still valid.
func bundleFor(current *x509.Certificate, previous []byte, now time.Time) []byte {
	var out bytes.Buffer
	out.Write(encodeCert(current.Raw))
	seen := map[string]bool{string(current.Raw): true}
	for _, c := range certsOf(previous) {
		if seen[string(c.Raw)] || !now.Before(c.NotAfter) || !c.IsCA {
			continue
		}
		seen[string(c.Raw)] = true
		out.Write(encodeCert(c.Raw))
	}
	return out.Bytes()
}

// poolOf returns a pool of the certificates of a PEM bundle, or false if
// it holds none.
func poolOf(bundle []byte) (*x509.CertPool, bool) {
	certs := certsOf(bundle)
	if len(certs) == 0 {
		return nil, false
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, true
}
