package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
)

// leafSpec is what a leaf Secret's certificate must be.
type leafSpec struct {
	key        types.NamespacedName
	commonName string
	dnsNames   []string // server certificates; may be empty
	uri        string   // "" for a server certificate, else the client's URI SAN
	// keepPrevious keeps the certificate a CA rotation replaced (see
	// KeyPreviousCert).
	keepPrevious bool
}

func (s leafSpec) usage() x509.ExtKeyUsage {
	if s.uri != "" {
		return x509.ExtKeyUsageClientAuth
	}
	return x509.ExtKeyUsageServerAuth
}

// EnsureOperatorCert creates or renews the operator's client certificate
// (URI SAN v1alpha1.OperatorURI) in OperatorSecret, a kubernetes.io/tls
// Secret whose ca.crt is the CA bundle. It renews when NeedsRenewal says
// so, when the current CA did not sign it, or when it does not match what
// would be issued; after a CA rotation it keeps the replaced certificate
// under KeyPreviousCert and KeyPreviousKey until that expires.
func (r *Rotator) EnsureOperatorCert(ctx context.Context) error {
	return r.withCA(ctx, (*Rotator).ensureOperatorCert)
}

// EnsureWebhookCert creates or renews, like EnsureOperatorCert, the
// webhook's serving certificate for WebhookService's DNS names in
// WebhookSecret. It does nothing when WebhookService is empty.
func (r *Rotator) EnsureWebhookCert(ctx context.Context) error {
	return r.withCA(ctx, (*Rotator).ensureWebhookCert)
}

// EnsureAgentSecret creates or renews, like EnsureOperatorCert, the
// Secret v1alpha1.AgentTLSSecret in namespace: the serving certificate of
// every agent there (CN AgentCommonName, no SANs), and in ca.crt the CA
// bundle operator client certificates chain to. Reconcile keeps it
// renewed from then on. Call it before creating pods that mount it.
func (r *Rotator) EnsureAgentSecret(ctx context.Context, namespace string) error {
	if namespace == "" {
		return errors.New("pki: ensure agent Secret: empty namespace")
	}
	return r.withCA(ctx, func(rr *Rotator, ctx context.Context, ca *caState) error {
		return rr.ensureAgentSecret(ctx, ca, namespace)
	})
}

// withCA resolves r's defaults and ensures the CA, then runs fn.
func (r *Rotator) withCA(ctx context.Context, fn func(*Rotator, context.Context, *caState) error) error {
	rr, err := r.resolved()
	if err != nil {
		return err
	}
	ca, err := rr.ensureCA(ctx)
	if err != nil {
		return err
	}
	return fn(rr, ctx, ca)
}

func (r *Rotator) ensureOperatorCert(ctx context.Context, ca *caState) error {
	err := r.ensureLeaf(ctx, ca, leafSpec{
		key:          types.NamespacedName{Namespace: r.Namespace, Name: r.OperatorSecret},
		commonName:   OperatorCommonName,
		uri:          v1alpha1.OperatorURI,
		keepPrevious: true,
	})
	if err != nil {
		return fmt.Errorf("pki: ensure operator certificate: %w", err)
	}
	return nil
}

func (r *Rotator) ensureWebhookCert(ctx context.Context, ca *caState) error {
	if r.WebhookService == "" {
		return nil
	}
	svc := r.WebhookService + "." + r.Namespace + ".svc"
	err := r.ensureLeaf(ctx, ca, leafSpec{
		key:        types.NamespacedName{Namespace: r.Namespace, Name: r.WebhookSecret},
		commonName: svc,
		dnsNames:   []string{svc, svc + ".cluster.local"},
	})
	if err != nil {
		return fmt.Errorf("pki: ensure webhook certificate: %w", err)
	}
	return nil
}

func (r *Rotator) ensureAgentSecret(ctx context.Context, ca *caState, namespace string) error {
	err := r.ensureLeaf(ctx, ca, leafSpec{
		key:        types.NamespacedName{Namespace: namespace, Name: v1alpha1.AgentTLSSecret},
		commonName: AgentCommonName,
	})
	if err != nil {
		return fmt.Errorf("pki: ensure agent Secret: %w", err)
	}
	return nil
}

// ensureAgentSecrets renews every agent Secret this Rotator issued.
func (r *Rotator) ensureAgentSecrets(ctx context.Context, ca *caState) error {
	var list corev1.SecretList
	if err := r.reader().List(ctx, &list, client.MatchingLabels(r.labels())); err != nil {
		return fmt.Errorf("pki: list agent Secrets: %w", err)
	}
	var errs []error
	for i := range list.Items {
		if s := &list.Items[i]; s.Name == v1alpha1.AgentTLSSecret {
			errs = append(errs, r.ensureAgentSecret(ctx, ca, s.Namespace))
		}
	}
	return errors.Join(errs...)
}

func (r *Rotator) ensureLeaf(ctx context.Context, ca *caState, spec leafSpec) error {
	now := r.Now()
	_, err := r.ensureSecret(ctx, secretSpec{
		key: spec.key,
		typ: corev1.SecretTypeTLS,
		data: func(cur map[string][]byte) (map[string][]byte, error) {
			return r.leafData(cur, ca, spec, now)
		},
	})
	return err
}

// leafData returns a leaf Secret's data at now, given its current data
// (nil when the Secret does not exist): the certificate kept if it is
// still good, a new one otherwise, and the current bundle.
func (r *Rotator) leafData(cur map[string][]byte, ca *caState, spec leafSpec, now time.Time) (map[string][]byte, error) {
	out := map[string][]byte{KeyCACert: ca.bundle}
	if leafIsCurrent(cur, ca.ca, spec, now) {
		out[corev1.TLSCertKey], out[corev1.TLSPrivateKeyKey] = cur[corev1.TLSCertKey], cur[corev1.TLSPrivateKeyKey]
	} else {
		var certPEM, keyPEM []byte
		var err error
		if spec.uri != "" {
			certPEM, keyPEM, err = ca.ca.IssueClient(now, r.LeafValidity, spec.commonName, spec.uri)
		} else {
			certPEM, keyPEM, err = ca.ca.IssueServer(now, r.LeafValidity, spec.commonName, spec.dnsNames)
		}
		if err != nil {
			return nil, err
		}
		out[corev1.TLSCertKey], out[corev1.TLSPrivateKeyKey] = certPEM, keyPEM
	}
	if spec.keepPrevious && cur != nil {
		keepPrevious(out, cur, ca, spec.usage(), now)
	}
	return out, nil
}

// keepPrevious sets KeyPreviousCert and KeyPreviousKey of out to the
// first of these still useful: the certificate out replaces, or the
// previous one already kept. Useful means valid at now, signed by a CA of
// the bundle other than the current one: a peer whose bundle predates
// the rotation accepts it when it would refuse the new certificate.
func keepPrevious(out, cur map[string][]byte, ca *caState, usage x509.ExtKeyUsage, now time.Time) {
	pool, ok := poolOf(ca.bundle)
	if !ok {
		return
	}
	candidates := [][2][]byte{
		{cur[corev1.TLSCertKey], cur[corev1.TLSPrivateKeyKey]},
		{cur[KeyPreviousCert], cur[KeyPreviousKey]},
	}
	for _, c := range candidates {
		if bytes.Equal(c[0], out[corev1.TLSCertKey]) {
			continue
		}
		pair, err := keyPair(c[0], c[1])
		if err != nil {
			continue
		}
		leaf := pair.Leaf
		if bytes.Equal(leaf.RawIssuer, ca.ca.cert.RawSubject) {
			continue
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}})
		if err != nil {
			continue
		}
		out[KeyPreviousCert], out[KeyPreviousKey] = c[0], c[1]
		return
	}
}

// leafIsCurrent reports whether the certificate of a leaf Secret's data
// can stay: it parses and matches its key, ca signed it, it does not need
// renewal at now, and it is what spec would issue.
func leafIsCurrent(data map[string][]byte, ca *CA, spec leafSpec, now time.Time) bool {
	if data == nil {
		return false
	}
	pair, err := keyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return false
	}
	leaf := pair.Leaf
	if needsRenewal(leaf, now) ||
		!bytes.Equal(leaf.RawIssuer, ca.cert.RawSubject) || leaf.CheckSignatureFrom(ca.cert) != nil {
		return false
	}
	var uris []string
	for _, u := range leaf.URIs {
		uris = append(uris, u.String())
	}
	var wantURIs []string
	if spec.uri != "" {
		wantURIs = []string{spec.uri}
	}
	return leaf.Subject.CommonName == spec.commonName &&
		slices.Equal(slices.Sorted(slices.Values(leaf.DNSNames)), slices.Sorted(slices.Values(spec.dnsNames))) &&
		slices.Equal(uris, wantURIs) &&
		slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{spec.usage()})
}
