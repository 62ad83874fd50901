// Package inject adds the layercache agent to a pod spec.
//
// Inject is a pure transformation: a pod, the CachePolicy its agent follows
// and a Config in; the pod with the agent container (a native sidecar or a
// regular container), its volumes and the marker annotations out. The
// mutating admission webhook (internal/webhook/podinject) and the manual
// injector (`agent inject -f`) both call it, so a pod injected either way
// looks the same. The package depends on the API types only, which keeps
// the agent binary free of the controller machinery.
package inject
