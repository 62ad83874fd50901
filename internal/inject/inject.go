package inject

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/layercache/layercache/api/v1alpha1"
)

// Names of what Inject adds to a pod. Volume names start with "lc-".
const (
	// ContainerName is the agent container's name.
	ContainerName = "layercache-agent"
	// InjectedStatus is the value of v1alpha1.AnnotationInjectStatus on an
	// injected pod.
	InjectedStatus = "injected"

	// PortAdminName names the admin API's container port.
	PortAdminName = "lc-admin"
	// PortProbesName names the probes and metrics container port.
	PortProbesName = "lc-probes"

	// PolicyDir is where the bootstrap ConfigMap is mounted.
	PolicyDir = "/etc/layercache/policy"
	// TLSDir is where the agent TLS Secret is mounted.
	TLSDir = "/etc/layercache/tls"
)

// ErrConflict is returned (wrapped) by Inject when the pod already has a
// container, volume or port the agent needs.
var ErrConflict = errors.New("conflicts with the agent")

// Inject adds the agent that follows policy to pod, in place, and reports
// whether it changed anything. A pod already marked injected is left
// alone, so calling Inject again is harmless. On error the pod is
// unchanged; an error wrapping ErrConflict means the pod uses a name or
// port the agent needs.
//
// Inject is pure: it reads nothing but its arguments. Whether the policy's
// ConfigMap and the agent TLS Secret exist is the caller's concern.
func Inject(pod *corev1.Pod, policy *v1alpha1.CachePolicy, cfg Config) (changed bool, err error) {
	if pod.Annotations[v1alpha1.AnnotationInjectStatus] == InjectedStatus {
		return false, nil
	}
	if policy == nil || policy.Name == "" {
		return false, errors.New("podinject: a named CachePolicy is required")
	}
	if pod.Namespace != "" && policy.Namespace != "" && pod.Namespace != policy.Namespace {
		// The bootstrap ConfigMap and the TLS Secret live in the policy's
		// namespace; a pod cannot mount them from another.
		return false, fmt.Errorf("podinject: CachePolicy %s/%s cannot serve a pod of namespace %s", policy.Namespace, policy.Name, pod.Namespace)
	}
	if err := cfg.Validate(); err != nil {
		return false, err
	}
	cfg = cfg.withDefaults()
	port, err := adminPort(pod, policy)
	if err != nil {
		return false, err
	}
	mounts := planMounts(policy, cfg)
	if err := checkConflicts(pod, port, mounts); err != nil {
		return false, err
	}

	agent := agentContainer(policy, cfg, port, mounts)
	if cfg.NativeSidecars {
		// First, so that it is up before the other init containers run
		// and they can use the cache too.
		pod.Spec.InitContainers = append([]corev1.Container{agent}, pod.Spec.InitContainers...)
	} else {
		// Last, so the application stays the pod's default container for
		// kubectl logs and exec.
		pod.Spec.Containers = append(pod.Spec.Containers, agent)
	}
	for _, m := range mounts {
		pod.Spec.Volumes = append(pod.Spec.Volumes, m.volume)
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[v1alpha1.AnnotationInjectStatus] = InjectedStatus
	pod.Annotations[v1alpha1.AnnotationAgentVersion] = cfg.AgentImage
	pod.Annotations[v1alpha1.AnnotationPolicy] = policy.Name
	return true, nil
}
