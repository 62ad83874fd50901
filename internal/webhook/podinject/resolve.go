package podinject

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/layercache/layercache/api/v1alpha1"
)

// ResolvePolicy finds the CachePolicy pod's agent follows, in the pod's
// namespace: the one its cache.layercache.io/policy annotation names, else
// the only one whose selector matches its labels.
//
// A pod that cannot be given a policy (the named one does not exist, none
// or several select it) gets nil and a warning that says what to do; err
// is only for failed reads. A named policy whose selector does not match
// the pod is returned with a warning: its agent would start, but the
// operator, which works on the pods a policy selects, would never update
// or purge it.
func ResolvePolicy(ctx context.Context, c client.Reader, pod *corev1.Pod) (*v1alpha1.CachePolicy, string, error) {
	if name := pod.Annotations[v1alpha1.AnnotationPolicy]; name != "" {
		return namedPolicy(ctx, c, pod, name)
	}
	var list v1alpha1.CachePolicyList
	if err := c.List(ctx, &list, client.InNamespace(pod.Namespace)); err != nil {
		return nil, "", fmt.Errorf("podinject: list CachePolicies of namespace %s: %w", pod.Namespace, err)
	}
	var found []*v1alpha1.CachePolicy
	for i := range list.Items {
		if list.Items[i].Selects(pod.Labels) {
			found = append(found, &list.Items[i])
		}
	}
	switch len(found) {
	case 1:
		return found[0], "", nil
	case 0:
		return nil, fmt.Sprintf("layercache: agent not injected: no CachePolicy in namespace %s selects this pod; "+
			"create one or set annotation %s=<name>", pod.Namespace, v1alpha1.AnnotationPolicy), nil
	default:
		return nil, fmt.Sprintf("layercache: agent not injected: CachePolicies %s all select this pod; "+
			"choose one with annotation %s=<name>", nameList(found), v1alpha1.AnnotationPolicy), nil
	}
}

// maxListedPolicies bounds the names a warning lists: the API server may
// truncate a warning longer than 256 characters.
const maxListedPolicies = 3

// nameList returns the sorted names of ps, the first maxListedPolicies of
// them.
func nameList(ps []*v1alpha1.CachePolicy) string {
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	if len(names) > maxListedPolicies {
		names = append(names[:maxListedPolicies], "...")
	}
	return strings.Join(names, ", ")
}

// namedPolicy reads the policy the pod's annotation names.
func namedPolicy(ctx context.Context, c client.Reader, pod *corev1.Pod, name string) (*v1alpha1.CachePolicy, string, error) {
	var p v1alpha1.CachePolicy
	err := c.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: name}, &p)
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Sprintf("layercache: agent not injected: CachePolicy %q (annotation %s) not found in namespace %s; "+
			"create it or fix the annotation", name, v1alpha1.AnnotationPolicy, pod.Namespace), nil
	case err != nil:
		return nil, "", fmt.Errorf("podinject: get CachePolicy %s/%s: %w", pod.Namespace, name, err)
	}
	if !p.Selects(pod.Labels) {
		return &p, fmt.Sprintf("layercache: CachePolicy %q does not select this pod, so the operator will not update or purge its agent; "+
			"make its selector match the pod's labels", name), nil
	}
	return &p, "", nil
}
