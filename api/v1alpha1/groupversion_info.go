// Package v1alpha1 holds the layercache operator's API: CachePolicy,
// CacheInvalidation and CacheSnapshot in the group cache.layercache.io.
//
// A CachePolicy configures the cache agents of the pods it selects; a
// CacheInvalidation removes entries from those agents once, like a Job; a
// CacheSnapshot exports one agent's cache to a file.
//
// +kubebuilder:object:generate=true
// +groupName=cache.layercache.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of these kinds.
	GroupVersion = schema.GroupVersion{Group: "cache.layercache.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds with a runtime.Scheme. The package
	// depends only on apimachinery, so programs that merely read these
	// types (the agent's manual injector) stay small.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this group version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&CachePolicy{}, &CachePolicyList{},
		&CacheInvalidation{}, &CacheInvalidationList{},
		&CacheSnapshot{}, &CacheSnapshotList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
