package pki

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// caState is the CA in force and the bundle every party trusts.
type caState struct {
	ca     *CA
	bundle []byte
}

// EnsureCA creates the CA Secret if it is missing, and replaces the CA
// when it needs renewal (see NeedsRenewal) or cannot be parsed. The
// Secret holds the current CA (KeyCACert, KeyCAKey) and KeyBundle: the
// current CA followed by every previous one until it expires, so that
// leaves from the old and the new CA are both accepted while Secrets
// propagate. Expired CAs are dropped from the bundle.
func (r *Rotator) EnsureCA(ctx context.Context) error {
	rr, err := r.resolved()
	if err != nil {
		return err
	}
	_, err = rr.ensureCA(ctx)
	return err
}

func (r *Rotator) ensureCA(ctx context.Context) (*caState, error) {
	now := r.Now()
	data, err := r.ensureSecret(ctx, secretSpec{
		key: types.NamespacedName{Namespace: r.Namespace, Name: r.CASecret},
		typ: corev1.SecretTypeOpaque,
		data: func(cur map[string][]byte) (map[string][]byte, error) {
			return caData(cur, now, r.CAValidity)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("pki: ensure CA: %w", err)
	}
	ca, err := ParseCA(data[KeyCACert], data[KeyCAKey])
	if err != nil {
		return nil, fmt.Errorf("pki: ensure CA: %w", err)
	}
	return &caState{ca: ca, bundle: data[KeyBundle]}, nil
}

// caData returns the CA Secret's data at now, given its current data
// (nil when the Secret does not exist).
func caData(cur map[string][]byte, now time.Time, validity time.Duration) (map[string][]byte, error) {
	if cur != nil {
		ca, err := ParseCA(cur[KeyCACert], cur[KeyCAKey])
		if err == nil && !needsRenewal(ca.cert, now) {
			bundle := bundleFor(ca.cert, cur[KeyBundle], now)
			if bytes.Equal(bundle, cur[KeyBundle]) {
				return cur, nil
			}
			out := maps.Clone(cur)
			out[KeyBundle] = bundle
			return out, nil
		}
	}
	ca, err := NewCA(now, validity)
	if err != nil {
		return nil, err
	}
	// The replaced CA, and the older ones still valid, stay trusted.
	previous := bytes.Join([][]byte{cur[KeyCACert], cur[KeyBundle]}, []byte("\n"))
	return map[string][]byte{
		KeyCACert: ca.CertPEM(),
		KeyCAKey:  ca.KeyPEM(),
		KeyBundle: bundleFor(ca.cert, previous, now),
	}, nil
}
