package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Selects reports whether the policy's selector matches a pod's labels. An
// empty or invalid selector matches nothing: a policy must say which pods
// it means.
func (p *CachePolicy) Selects(podLabels map[string]string) bool {
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.Selector)
	if err != nil || sel.Empty() {
		return false
	}
	return sel.Matches(labels.Set(podLabels))
}
