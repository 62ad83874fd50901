package pki

import (
	"crypto/x509"
	"time"
)

// NeedsRenewal reports whether the first certificate of certPEM should be
// replaced at now: when less than a third of its lifetime is left (30 of
// 90 days for a leaf, 8 months of 2 years for the CA), when it is not yet
// valid (a clock went back), or when certPEM is missing or unparsable.
// A third leaves room for several failed renewal passes before anything
// expires.
func NeedsRenewal(certPEM []byte, now time.Time) bool {
	c, err := firstCert(certPEM)
	if err != nil {
		return true
	}
	return needsRenewal(c, now)
}

func needsRenewal(c *x509.Certificate, now time.Time) bool {
	if now.Before(c.NotBefore) {
		return true
	}
	lifetime := c.NotAfter.Sub(c.NotBefore)
	return c.NotAfter.Sub(now) < lifetime/3
}
