//go:build tools

// Package tools pins etcd for the envtest control plane that
// hack/envtest-bins.sh builds; nothing imports this module.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
