package inject

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// checkConflicts returns an error wrapping ErrConflict when pod already
// has the agent's container name, one of its volume names, or declares a
// port the agent listens on (containers of a pod share one network
// namespace, so two cannot listen on the same port).
func checkConflicts(pod *corev1.Pod, adminPort int32, mounts []mount) error {
	all := slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers)
	for i := range pod.Spec.EphemeralContainers {
		all = append(all, corev1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	agentPorts := []int32{adminPort, agentapi.ProbePort, agentapi.DataPort}
	for _, c := range all {
		if c.Name == ContainerName {
			return fmt.Errorf("podinject: container %q: %w: rename it", c.Name, ErrConflict)
		}
		for _, p := range c.Ports {
			if slices.Contains(agentPorts, p.ContainerPort) {
				return fmt.Errorf("podinject: container %q port %d: %w, which listens on ports %v", c.Name, p.ContainerPort, ErrConflict, agentPorts)
			}
			if p.Name == PortAdminName || p.Name == PortProbesName {
				return fmt.Errorf("podinject: container %q port name %q: %w: rename it", c.Name, p.Name, ErrConflict)
			}
		}
	}
	for _, v := range pod.Spec.Volumes {
		if slices.ContainsFunc(mounts, func(m mount) bool { return m.volume.Name == v.Name }) {
			return fmt.Errorf("podinject: volume %q: %w: rename it", v.Name, ErrConflict)
		}
	}
	return nil
}
