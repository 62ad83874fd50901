package controller

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// writeBootstrap creates or updates the policy's bootstrap ConfigMap with
// compiled. The ConfigMap is owned by the policy, so it goes with it.
func (r *CachePolicyReconciler) writeBootstrap(ctx context.Context, policy *v1alpha1.CachePolicy, compiled agentapi.Policy) error {
	doc, err := json.MarshalIndent(compiled, "", "  ")
	if err != nil {
		return fmt.Errorf("bootstrap: encode policy: %w", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: policy.Namespace, Name: v1alpha1.BootstrapConfigMapName(policy.Name)}}
	_, err = controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		if cm.Labels == nil {
			cm.Labels = map[string]string{}
		}
		cm.Labels[v1alpha1.LabelPolicy] = policy.Name
		cm.Data = map[string]string{v1alpha1.BootstrapKey: string(doc)}
		return controllerutil.SetControllerReference(policy, cm, r.Scheme())
	})
	if err != nil {
		return fmt.Errorf("bootstrap ConfigMap %s: %w", cm.Name, err)
	}
	return nil
}
