package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/agentconn"
)

// AgentDialer hands out clients of the agents' admin APIs.
// *agentconn.Dialer implements it.
type AgentDialer interface {
	For(pod *corev1.Pod, policyPort int32) (agentconn.Admin, error)
}

// selectedPods returns the active pods of policy's namespace that its
// selector (narrowed by extra, when non-nil) matches, sorted by name. An
// empty selector matches nothing: a policy must say which pods it means.
func selectedPods(ctx context.Context, c client.Reader, policy *v1alpha1.CachePolicy, extra *metav1.LabelSelector) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(&policy.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("spec.selector: %w", err)
	}
	if sel.Empty() {
		return nil, nil
	}
	var narrow labels.Selector
	if extra != nil {
		if narrow, err = metav1.LabelSelectorAsSelector(extra); err != nil {
			return nil, fmt.Errorf("spec.podSelector: %w", err)
		}
	}
	var list corev1.PodList
	if err := c.List(ctx, &list, client.InNamespace(policy.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	pods := list.Items[:0]
	for _, p := range list.Items {
		if !isActive(&p) || (narrow != nil && !narrow.Matches(labels.Set(p.Labels))) {
			continue
		}
		pods = append(pods, p)
	}
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods, nil
}

// isActive reports whether pod runs (or is about to) and is not going away:
// the pods whose agents hold a cache worth configuring or purging.
func isActive(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return false
	}
	return pod.Status.PodIP != ""
}

// podReady reports the pod's Ready condition.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// policiesSelecting returns the policies of pod's namespace whose selector
// matches it.
func policiesSelecting(ctx context.Context, c client.Reader, pod *corev1.Pod) ([]v1alpha1.CachePolicy, error) {
	var list v1alpha1.CachePolicyList
	if err := c.List(ctx, &list, client.InNamespace(pod.Namespace)); err != nil {
		return nil, err
	}
	var out []v1alpha1.CachePolicy
	for _, p := range list.Items {
		if p.Selects(pod.Labels) {
			out = append(out, p)
		}
	}
	return out, nil
}

// paused reports whether obj carries the annotation that pauses
// reconciliation.
func paused(obj metav1.Object) bool {
	return obj.GetAnnotations()[v1alpha1.AnnotationReconcile] == "disabled"
}
