package pki

import (
	"bytes"
	"testing"
	"time"
)

func TestBundleFor(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	newCA := func(at time.Time, validity time.Duration) *CA {
		ca, err := NewCA(at, validity)
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	current := newCA(now, time.Hour)
	old := newCA(now.Add(-time.Hour), 2*time.Hour) // still valid
	expired := newCA(now.Add(-2*time.Hour), time.Hour)
	leaf, _, err := old.IssueServer(now, time.Minute, "leaf", nil)
	if err != nil {
		t.Fatal(err)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name     string
		previous []byte
		want     []*CA
	}{
		{"a first CA trusts itself only", nil, []*CA{current}},
		{"a valid previous CA stays trusted", old.CertPEM(), []*CA{current, old}},
		{"an expired CA is dropped", cat(old.CertPEM(), expired.CertPEM()), []*CA{current, old}},
		{"duplicates are dropped", cat(current.CertPEM(), old.CertPEM(), old.CertPEM()), []*CA{current, old}},
		{"a leaf is not a CA", cat(leaf, old.CertPEM()), []*CA{current, old}},
		{"damaged entries are skipped", cat([]byte("junk\n"), old.CertPEM()), []*CA{current, old}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := bundleFor(current.cert, tc.previous, now)
			var want []byte
			for _, ca := range tc.want {
				want = append(want, ca.CertPEM()...)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("bundle holds %d certificates, want %d (in order)", len(certsOf(got)), len(tc.want))
			}
		})
	}
}
