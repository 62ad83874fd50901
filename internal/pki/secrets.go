package pki

import (
	"bytes"
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// Keys of the Secrets the Rotator writes.
const (
	// KeyCACert is the current CA certificate in the CA Secret, and the
	// CA bundle in every leaf Secret (the kubernetes.io/tls convention).
	KeyCACert = "ca.crt"
	// KeyCAKey is the current CA's private key in the CA Secret.
	KeyCAKey = "ca.key"
	// KeyBundle is, in the CA Secret, the PEM of every CA still trusted:
	// the current one and, after a rotation, the previous ones until
	// they expire.
	KeyBundle = "bundle.crt"
	// KeyPreviousCert and KeyPreviousKey hold, in the operator's Secret,
	// the client certificate replaced by a CA rotation, while it is valid:
	// agents whose mounted bundle predates the rotation still accept it.
	KeyPreviousCert = "previous.crt"
	KeyPreviousKey  = "previous.key"
)

// Labels on every Secret the Rotator writes.
const (
	// LabelManagedBy is set to ManagedBy.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "layercache"
	// LabelIssuer is the namespace of the Rotator that issued a Secret.
	// Reconcile renews only the agent Secrets of its own CA, so that two
	// installations serving different namespaces never overwrite each
	// other's.
	LabelIssuer = "cache.layercache.io/issuer"
)

// Common names of the leaves the Rotator issues.
const (
	// AgentCommonName is the CN of the agents' serving certificate.
	AgentCommonName = "layercache-agent"
	// OperatorCommonName is the CN of the operator's client certificate
	// (its identity is the URI SAN v1alpha1.OperatorURI).
	OperatorCommonName = "layercache-operator"
)

// secretSpec is what one Secret must look like; data computes its
// content from the current one (nil when the Secret does not exist). It
// returns the current map itself when nothing needs to change, and may be
// called more than once (after a conflict).
type secretSpec struct {
	key  types.NamespacedName
	typ  corev1.SecretType
	data func(current map[string][]byte) (map[string][]byte, error)
}

// ensureSecret creates or updates the Secret of spec, with optimistic
// concurrency: a Create that finds the Secret already made by someone
// else, or an Update whose resourceVersion is stale, re-reads and starts
// over, so two writers never both win. It returns the data written (or
// found unchanged).
func (r *Rotator) ensureSecret(ctx context.Context, spec secretSpec) (map[string][]byte, error) {
	var out map[string][]byte
	retryable := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	err := retry.OnError(retry.DefaultRetry, retryable, func() error {
		var cur corev1.Secret
		err := r.reader().Get(ctx, spec.key, &cur)
		if apierrors.IsNotFound(err) {
			data, err := spec.data(nil)
			if err != nil {
				return err
			}
			s := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: spec.key.Namespace, Name: spec.key.Name, Labels: r.labels()},
				Type:       spec.typ,
				Data:       data,
			}
			if err := r.Client.Create(ctx, s); err != nil {
				return err
			}
			out = data
			return nil
		}
		if err != nil {
			return err
		}
		if cur.Type != spec.typ {
			// The type is immutable: only a person can decide to delete
			// what someone else made under this name.
			return fmt.Errorf("the Secret has type %q, not %q: delete it to let the operator recreate it", cur.Type, spec.typ)
		}
		data, err := spec.data(cur.Data)
		if err != nil {
			return err
		}
		labels := maps.Clone(cur.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, r.labels())
		if maps.EqualFunc(data, cur.Data, bytes.Equal) && maps.Equal(labels, cur.Labels) {
			out = data
			return nil
		}
		cur.Data, cur.Labels = data, labels
		if err := r.Client.Update(ctx, &cur); err != nil { // carries cur.ResourceVersion
			return err
		}
		out = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", spec.key, err)
	}
	return out, nil
}

// labels are those of every Secret the Rotator writes.
func (r *Rotator) labels() map[string]string {
	return map[string]string{LabelManagedBy: ManagedBy, LabelIssuer: r.Namespace}
}
