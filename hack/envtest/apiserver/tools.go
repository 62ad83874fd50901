//go:build tools

// Package tools pins kube-apiserver for the envtest control plane, and
// kubectl for the end-to-end tests, that hack/envtest-bins.sh builds;
// nothing imports this module.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
