package podinject

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/discovery"
)

// nativeSidecarsSince is the first Kubernetes version with native sidecars
// (init containers with restartPolicy Always) on by default: beta in 1.29,
// GA in 1.33.
const nativeSidecarsSince = "1.29.0"

// NativeSidecarsSupported reports whether the API server is Kubernetes
// 1.29 or later, where native sidecars are on by default.
//
// It cannot see a cluster that turned the SidecarContainers feature gate
// off (possible before 1.33), nor nodes whose kubelet is older than the
// API server; on such a node a native sidecar would block the pod's start.
func NativeSidecarsSupported(dc discovery.ServerVersionInterface) (bool, error) {
	info, err := dc.ServerVersion()
	if err != nil {
		return false, fmt.Errorf("podinject: server version: %w", err)
	}
	v, err := version.ParseGeneric(info.GitVersion)
	if err != nil {
		// Some distributions report a bare or decorated version ("1",
		// "29+"); fall back on the major and minor fields.
		if v, err = version.ParseGeneric(info.Major + "." + strings.TrimSuffix(info.Minor, "+")); err != nil {
			return false, fmt.Errorf("podinject: server version %q: %w", info.GitVersion, err)
		}
	}
	return v.AtLeast(version.MustParseGeneric(nativeSidecarsSince)), nil
}
