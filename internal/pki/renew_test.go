package pki_test

import (
	"testing"
	"time"

	"github.com/layercache/layercache/internal/pki"
)

func TestNeedsRenewal(t *testing.T) {
	t.Parallel()
	ca := mustCA(t, t0, 365*24*time.Hour)
	// A 90-day leaf lives 90 days and 5 minutes (ClockSkew): renewal
	// starts when a third of that, 30 days and 100 seconds, is left.
	leaf, _, err := ca.IssueServer(t0, 90*24*time.Hour, "leaf", nil)
	if err != nil {
		t.Fatal(err)
	}
	notAfter := t0.Add(90 * 24 * time.Hour)
	third := (90*24*time.Hour + pki.ClockSkew) / 3
	for _, tc := range []struct {
		name string
		cert []byte
		now  time.Time
		want bool
	}{
		{"a fresh certificate is kept", leaf, t0, false},
		{"half-way through it is kept", leaf, t0.Add(45 * 24 * time.Hour), false},
		{"just more than a third left is kept", leaf, notAfter.Add(-third - time.Second), false},
		{"less than a third left is renewed", leaf, notAfter.Add(-third + time.Second), true},
		{"an expired certificate is renewed", leaf, notAfter.Add(time.Hour), true},
		{"a certificate not yet valid is renewed", leaf, t0.Add(-time.Hour), true},
		{"a missing certificate is renewed", nil, t0, true},
		{"an unparsable certificate is renewed", []byte("not PEM"), t0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := pki.NeedsRenewal(tc.cert, tc.now); got != tc.want {
				t.Errorf("NeedsRenewal at %s = %v, want %v", tc.now, got, tc.want)
			}
		})
	}
}
