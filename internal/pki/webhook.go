package pki

import (
	"bytes"
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// PatchWebhookCABundle sets clientConfig.caBundle of every webhook of the
// MutatingWebhookConfiguration WebhookConfig to the CA bundle, so the API
// server trusts the webhook's certificate from the current CA and, during
// a rotation, from the previous one. It does nothing when WebhookConfig
// is empty, and writes only when a caBundle differs, with the object's
// resourceVersion (a concurrent change makes it re-read and retry).
func (r *Rotator) PatchWebhookCABundle(ctx context.Context) error {
	return r.withCA(ctx, (*Rotator).patchWebhookCABundle)
}

func (r *Rotator) patchWebhookCABundle(ctx context.Context, ca *caState) error {
	if r.WebhookConfig == "" {
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cfg admissionregistrationv1.MutatingWebhookConfiguration
		if err := r.reader().Get(ctx, types.NamespacedName{Name: r.WebhookConfig}, &cfg); err != nil {
			return err
		}
		changed := false
		for i := range cfg.Webhooks {
			if cc := &cfg.Webhooks[i].ClientConfig; !bytes.Equal(cc.CABundle, ca.bundle) {
				cc.CABundle = ca.bundle
				changed = true
			}
		}
		if !changed {
			return nil
		}
		return r.Client.Update(ctx, &cfg)
	})
	if err != nil {
		return fmt.Errorf("pki: patch caBundle of MutatingWebhookConfiguration %s: %w", r.WebhookConfig, err)
	}
	return nil
}
