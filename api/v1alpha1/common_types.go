package v1alpha1

import (
	"fmt"
	"time"
)

// Duration is a Go duration string such as "30s", "5m" or "1h30m". Cache
// lifetimes are written this way because that is how people think about
// them; lifecycle knobs of the one-shot kinds use integer seconds, like Job.
//
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
// +kubebuilder:validation:MaxLength=32
type Duration string

// Parse returns the duration; the empty Duration is zero.
func (d Duration) Parse() (time.Duration, error) {
	if d == "" {
		return 0, nil
	}
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", string(d), err)
	}
	return v, nil
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SecretKeyRef selects one key of a Secret in the same namespace.
type SecretKeyRef struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key within the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// ConfigMapKeyRef selects one key of a ConfigMap in the same namespace.
type ConfigMapKeyRef struct {
	// name of the ConfigMap.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key within the ConfigMap's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// Layer names a cache tier.
//
// +kubebuilder:validation:Enum=Memory;Redis;Disk
type Layer string

// The cache tiers.
const (
	// LayerMemory is each agent's in-process tier.
	LayerMemory Layer = "Memory"
	// LayerRedis is the tier shared by every agent of a policy.
	LayerRedis Layer = "Redis"
	// LayerDisk is each agent's local persistent tier.
	LayerDisk Layer = "Disk"
)
