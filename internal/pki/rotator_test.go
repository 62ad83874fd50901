package pki_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/pki"
)

const day = 24 * time.Hour

// material is what a Rotator wrote in its namespace.
type material struct {
	ca, operator, webhook *corev1.Secret
}

func readMaterial(t *testing.T, ns string) material {
	t.Helper()
	return material{
		ca:       getSecret(t, ns, pki.DefaultCASecret),
		operator: getSecret(t, ns, pki.DefaultOperatorSecret),
		webhook:  getSecret(t, ns, pki.DefaultWebhookSecret),
	}
}

func (m material) versions() [3]string {
	return [3]string{m.ca.ResourceVersion, m.operator.ResourceVersion, m.webhook.ResourceVersion}
}

func leafOf(t *testing.T, s *corev1.Secret) *x509.Certificate {
	t.Helper()
	return parseCert(t, s.Data[corev1.TLSCertKey])
}

// verifyLeaf fails t unless the Secret's certificate chains to ca for usage.
func verifyLeaf(t *testing.T, s *corev1.Secret, ca *x509.Certificate, usage x509.ExtKeyUsage) {
	t.Helper()
	opts := x509.VerifyOptions{Roots: poolOf(ca), KeyUsages: []x509.ExtKeyUsage{usage}, CurrentTime: leafOf(t, s).NotBefore.Add(pki.ClockSkew)}
	if _, err := leafOf(t, s).Verify(opts); err != nil {
		t.Errorf("Secret %s: certificate does not chain to CA %q: %v", s.Name, ca.Subject, err)
	}
}

func TestReconcileCreatesTheSecretsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	r := newRotator(ns, newClock(time.Now()))
	must(t, r.Reconcile(ctx))
	m := readMaterial(t, ns)

	if m.ca.Type != corev1.SecretTypeOpaque {
		t.Errorf("CA Secret type %q", m.ca.Type)
	}
	ca := parseCert(t, m.ca.Data[pki.KeyCACert])
	if _, err := pki.ParseCA(m.ca.Data[pki.KeyCACert], m.ca.Data[pki.KeyCAKey]); err != nil {
		t.Errorf("CA Secret does not hold a usable CA: %v", err)
	}
	if b := certsIn(t, m.ca.Data[pki.KeyBundle]); len(b) != 1 || !b[0].Equal(ca) {
		t.Errorf("bundle holds %d certificates, want the CA alone", len(b))
	}
	for _, s := range []*corev1.Secret{m.ca, m.operator, m.webhook} {
		if s.Labels[pki.LabelManagedBy] != pki.ManagedBy || s.Labels[pki.LabelIssuer] != ns {
			t.Errorf("Secret %s labels = %v", s.Name, s.Labels)
		}
	}
	for _, s := range []*corev1.Secret{m.operator, m.webhook} {
		if s.Type != corev1.SecretTypeTLS {
			t.Errorf("Secret %s type %q, want kubernetes.io/tls", s.Name, s.Type)
		}
		if string(s.Data["ca.crt"]) != string(m.ca.Data[pki.KeyBundle]) {
			t.Errorf("Secret %s: ca.crt is not the bundle", s.Name)
		}
	}
	verifyLeaf(t, m.operator, ca, x509.ExtKeyUsageClientAuth)
	if op := leafOf(t, m.operator); len(op.URIs) != 1 || op.URIs[0].String() != v1alpha1.OperatorURI {
		t.Errorf("operator URIs = %v, want %s", op.URIs, v1alpha1.OperatorURI)
	}
	verifyLeaf(t, m.webhook, ca, x509.ExtKeyUsageServerAuth)
	svc := webhookService + "." + ns + ".svc"
	if got := strings.Join(leafOf(t, m.webhook).DNSNames, ","); got != svc+","+svc+".cluster.local" {
		t.Errorf("webhook DNS names = %s", got)
	}

	must(t, r.Reconcile(ctx))
	if again := readMaterial(t, ns); again.versions() != m.versions() {
		t.Errorf("a second Reconcile wrote: resourceVersions %v -> %v", m.versions(), again.versions())
	}
}

func TestLeafRenewal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		advance time.Duration
		renewed bool
	}{
		{"a fresh leaf is kept", 10 * day, false},
		{"a leaf with more than a third of its life left is kept", 59 * day, false},
		{"a leaf with less than a third of its life left is renewed", 61 * day, true},
		{"an expired leaf is renewed", 100 * day, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			ns := newNamespace(t)
			clk := newClock(time.Now())
			r := newRotator(ns, clk)
			must(t, r.Reconcile(ctx))
			before := readMaterial(t, ns)

			clk.Advance(tc.advance)
			must(t, r.Reconcile(ctx))
			after := readMaterial(t, ns)
			if after.ca.ResourceVersion != before.ca.ResourceVersion {
				t.Error("the CA Secret changed; only leaves should")
			}
			for _, pair := range [][2]*corev1.Secret{{before.operator, after.operator}, {before.webhook, after.webhook}} {
				renewed := !leafOf(t, pair[0]).Equal(leafOf(t, pair[1]))
				if renewed != tc.renewed {
					t.Errorf("Secret %s renewed = %v, want %v", pair[0].Name, renewed, tc.renewed)
				}
			}
			if tc.renewed && after.operator.Data[pki.KeyPreviousCert] != nil {
				t.Error("a renewal under the same CA kept a previous operator certificate")
			}
		})
	}
}

func TestCARotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns, appNS := newNamespace(t), newNamespace(t)
	clk := newClock(time.Now())
	r := newRotator(ns, clk)
	must(t, r.Reconcile(ctx))
	must(t, r.EnsureAgentSecret(ctx, appNS))
	firstCA := getSecret(t, ns, pki.DefaultCASecret)
	// 450 days in, the leaves have been renewed and the CA has more
	// than a third (243 days) of its life left.
	clk.Advance(450 * day)
	must(t, r.Reconcile(ctx))
	before := readMaterial(t, ns)
	oldCA := parseCert(t, before.ca.Data[pki.KeyCACert])
	if !parseCert(t, firstCA.Data[pki.KeyCACert]).Equal(oldCA) {
		t.Fatal("the CA was rotated too early")
	}

	// 500 days in, less than a third of it is left: the CA is rotated,
	// and every leaf is re-issued from the new one although none is due.
	clk.Advance(50 * day)
	must(t, r.Reconcile(ctx))
	after := readMaterial(t, ns)
	newCA := parseCert(t, after.ca.Data[pki.KeyCACert])
	if newCA.Equal(oldCA) {
		t.Fatal("the CA was not rotated")
	}
	bundle := certsIn(t, after.ca.Data[pki.KeyBundle])
	if len(bundle) != 2 || !bundle[0].Equal(newCA) || !bundle[1].Equal(oldCA) {
		t.Fatalf("bundle holds %d certificates; want the new CA, then the old one", len(bundle))
	}
	agentSecret := getSecret(t, appNS, v1alpha1.AgentTLSSecret)
	verifyLeaf(t, after.operator, newCA, x509.ExtKeyUsageClientAuth)
	verifyLeaf(t, after.webhook, newCA, x509.ExtKeyUsageServerAuth)
	verifyLeaf(t, agentSecret, newCA, x509.ExtKeyUsageServerAuth)
	for _, s := range []*corev1.Secret{after.operator, after.webhook, agentSecret} {
		if string(s.Data["ca.crt"]) != string(after.ca.Data[pki.KeyBundle]) {
			t.Errorf("Secret %s/%s: ca.crt is not the new bundle", s.Namespace, s.Name)
		}
	}
	// Agents whose mounted bundle predates the rotation still accept the
	// operator's previous certificate.
	if prev := after.operator.Data[pki.KeyPreviousCert]; string(prev) != string(before.operator.Data[corev1.TLSCertKey]) {
		t.Error("the operator Secret did not keep the replaced certificate as previous.crt")
	}

	// Once the old CA has expired it leaves the bundle, and the previous
	// operator certificate (which expired before it) goes too.
	clk.Set(oldCA.NotAfter.Add(time.Hour))
	must(t, r.Reconcile(ctx))
	last := readMaterial(t, ns)
	if b := certsIn(t, last.ca.Data[pki.KeyBundle]); len(b) != 1 || !b[0].Equal(newCA) {
		t.Errorf("after the old CA expired, the bundle holds %d certificates; want the new CA alone", len(b))
	}
	if _, ok := last.operator.Data[pki.KeyPreviousCert]; ok {
		t.Error("an expired previous operator certificate was kept")
	}
}

func TestEnsureAgentSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns, appNS := newNamespace(t), newNamespace(t)
	clk := newClock(time.Now())
	r := newRotator(ns, clk)
	must(t, r.EnsureAgentSecret(ctx, appNS))

	s := getSecret(t, appNS, v1alpha1.AgentTLSSecret)
	ca := getSecret(t, ns, pki.DefaultCASecret) // made on the way
	if s.Type != corev1.SecretTypeTLS || s.Labels[pki.LabelManagedBy] != pki.ManagedBy {
		t.Errorf("agent Secret type %q labels %v", s.Type, s.Labels)
	}
	leaf := leafOf(t, s)
	if leaf.Subject.CommonName != pki.AgentCommonName || len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.URIs) != 0 {
		t.Errorf("agent certificate CN %q SANs %v %v %v; want %s and none", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses, leaf.URIs, pki.AgentCommonName)
	}
	verifyLeaf(t, s, parseCert(t, ca.Data[pki.KeyCACert]), x509.ExtKeyUsageServerAuth)
	if string(s.Data["ca.crt"]) != string(ca.Data[pki.KeyBundle]) {
		t.Error("agent ca.crt is not the bundle")
	}

	must(t, r.EnsureAgentSecret(ctx, appNS))
	if again := getSecret(t, appNS, v1alpha1.AgentTLSSecret); again.ResourceVersion != s.ResourceVersion {
		t.Error("a second EnsureAgentSecret wrote")
	}
	// Reconcile renews it from then on.
	clk.Advance(70 * day)
	must(t, r.Reconcile(ctx))
	if renewed := leafOf(t, getSecret(t, appNS, v1alpha1.AgentTLSSecret)); renewed.Equal(leaf) {
		t.Error("Reconcile did not renew the agent Secret near its expiry")
	}
}

func TestReconcileLeavesOtherIssuersAgentSecretsAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nsA, nsB, appNS := newNamespace(t), newNamespace(t), newNamespace(t)
	clk := newClock(time.Now())
	must(t, newRotator(nsA, clk).EnsureAgentSecret(ctx, appNS))
	before := getSecret(t, appNS, v1alpha1.AgentTLSSecret)
	clk.Advance(70 * day)
	must(t, newRotator(nsB, clk).Reconcile(ctx))
	if after := getSecret(t, appNS, v1alpha1.AgentTLSSecret); after.ResourceVersion != before.ResourceVersion {
		t.Error("a Rotator rewrote an agent Secret another installation issued")
	}
}

func TestConcurrentRotatorsAgreeOnOneCA(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	clk := newClock(time.Now())
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = newRotator(ns, clk).Reconcile(ctx) })
	}
	wg.Wait()
	must(t, errors.Join(errs...))
	m := readMaterial(t, ns)
	ca := parseCert(t, m.ca.Data[pki.KeyCACert])
	if b := certsIn(t, m.ca.Data[pki.KeyBundle]); len(b) != 1 {
		t.Errorf("bundle holds %d CAs after concurrent creation, want 1", len(b))
	}
	verifyLeaf(t, m.operator, ca, x509.ExtKeyUsageClientAuth)
	verifyLeaf(t, m.webhook, ca, x509.ExtKeyUsageServerAuth)
}

func TestReconcileRefusesASecretOfAnotherType(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	squatter := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pki.DefaultOperatorSecret},
		StringData: map[string]string{"token": "x"},
	}
	must(t, k8s.Create(ctx, squatter))
	err := newRotator(ns, newClock(time.Now())).Reconcile(ctx)
	if err == nil || !strings.Contains(err.Error(), "type") {
		t.Fatalf("Reconcile over an Opaque operator Secret = %v, want an error about its type", err)
	}
	// The other Secrets are still made.
	getSecret(t, ns, pki.DefaultWebhookSecret)
}

func TestRotatorRefusesInvalidSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		r    pki.Rotator
		want string
	}{
		{"no client", pki.Rotator{Namespace: "x"}, "Client"},
		{"no namespace", pki.Rotator{Client: k8s}, "Namespace"},
		{"a negative CA validity", pki.Rotator{Client: k8s, Namespace: "x", CAValidity: -1}, "CAValidity"},
		{"a negative leaf validity", pki.Rotator{Client: k8s, Namespace: "x", LeafValidity: -1}, "LeafValidity"},
		{"a negative interval", pki.Rotator{Client: k8s, Namespace: "x", Interval: -1}, "Interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.r.Start(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestStartReconcilesUntilTheContextEnds(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	r := newRotator(ns, newClock(time.Now()))
	if !r.NeedLeaderElection() {
		t.Error("the Rotator must run on the leader only")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	eventually(t, "the first pass writes the Secrets", func() error {
		var s corev1.Secret
		return k8s.Get(context.Background(), keyOf(ns, pki.DefaultWebhookSecret), &s)
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Start returned %v after its context ended, want nil", err)
	}
}
