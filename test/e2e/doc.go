// Package e2e is the end-to-end harness of layercache: a real kube-apiserver
// and etcd (envtest), the Helm chart installed into it with helm, the real
// manager binary, real agent processes each bound to its own loopback
// address (127.0.0.x) and registered as a Pod whose status the harness sets
// (there is no kubelet), and kubectl to look at it all the way a user does.
//
// The tests in this package (run by `make test`) and the demo program in
// ./demo (`make demo`) both use it. KUBEBUILDER_ASSETS must name the
// directory hack/envtest-bins.sh prints (kube-apiserver, etcd, kubectl).
package e2e
