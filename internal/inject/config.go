package inject

import (
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Defaults of Config, as quantities.
const (
	// DefaultCPURequest and DefaultMemoryRequest are the agent's requests
	// when Config.Resources is empty. There is no default limit: the
	// memory the agent needs comes from the policy's memory tier, which
	// the injector does not size.
	DefaultCPURequest    = "50m"
	DefaultMemoryRequest = "64Mi"
	// DefaultDiskSizeLimit bounds the disk tier's emptyDir when
	// Config.DiskSizeLimit is zero.
	DefaultDiskSizeLimit = "1Gi"
)

// Config says how the agent is injected. The zero value is not usable:
// AgentImage is required.
type Config struct {
	// AgentImage is the agent's container image; it is also recorded on
	// the pod (cache.layercache.io/agent-version).
	//
	// default: none, required
	AgentImage string

	// ImagePullPolicy of the agent container.
	//
	// default: empty, Kubernetes' own default (Always for :latest,
	// IfNotPresent otherwise)
	ImagePullPolicy corev1.PullPolicy

	// NativeSidecars injects the agent as a native sidecar: the first init
	// container, with restartPolicy Always and a startup probe, so the
	// application starts only once the agent is ready, and a Job's pod
	// finishes when its application does. It needs Kubernetes 1.29 or
	// later (see NativeSidecarsSupported). False injects a regular
	// container.
	//
	// default: false
	NativeSidecars bool

	// Resources of the agent container.
	//
	// default: requests of DefaultCPURequest and DefaultMemoryRequest, no
	// limits (when both Requests and Limits are empty)
	Resources corev1.ResourceRequirements

	// DiskSizeLimit is the sizeLimit of the disk tier's emptyDir. When the
	// policy's spec.layers.disk.maxSize is larger, that is used instead:
	// the kubelet evicts a pod whose emptyDir outgrows its limit, so a
	// smaller one would turn a full cache into an evicted pod.
	//
	// default: DefaultDiskSizeLimit (1Gi)
	DiskSizeLimit resource.Quantity
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if len(c.Resources.Requests) == 0 && len(c.Resources.Limits) == 0 {
		c.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(DefaultCPURequest),
			corev1.ResourceMemory: resource.MustParse(DefaultMemoryRequest),
		}}
	}
	if c.DiskSizeLimit.IsZero() {
		c.DiskSizeLimit = resource.MustParse(DefaultDiskSizeLimit)
	}
	return c
}

// Validate reports a Config that cannot inject a working agent.
func (c Config) Validate() error {
	if c.AgentImage == "" {
		return errors.New("podinject: Config.AgentImage is required")
	}
	if c.DiskSizeLimit.Sign() < 0 {
		return errors.New("podinject: Config.DiskSizeLimit must not be negative")
	}
	return nil
}
