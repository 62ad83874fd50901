// Package controller holds the operator's reconcilers, one per kind:
// CachePolicy (push the compiled policy to the selected agents and report
// how many run it), CacheInvalidation (a Job-like purge across the agents)
// and CacheSnapshot (a one-shot export, plus the schedules policies
// declare).
//
// The reconcilers reach agents through an AgentDialer and never hold
// Kubernetes credentials on the agents' behalf; the agents never talk to
// the API server.
package controller
