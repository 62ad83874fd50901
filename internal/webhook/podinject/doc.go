// Package podinject is the mutating admission webhook that adds the
// layercache agent to pods (the transformation itself is package inject).
//
// The webhook mutates pods labelled cache.layercache.io/inject=true on
// CREATE only. It never refuses a pod for a reason that may heal by itself
// (no policy yet, several policies, the agent TLS Secret not issued yet):
// such a pod is admitted without the agent, with an admission warning,
// because an agent that cannot start would keep the whole pod from
// starting. It refuses a pod only when the pod itself is in the way (a
// container, volume or port the agent needs is taken).
package podinject
