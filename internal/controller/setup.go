package controller

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Options configures the reconcilers.
type Options struct {
	// Agents reaches the agents' admin APIs. Required.
	Agents AgentDialer
	// Resync is how often a policy re-polls its agents when nothing
	// changed, so status cannot go stale.
	//
	// default: 30 seconds
	Resync time.Duration
	// StatusConcurrency bounds the agents polled at once per policy.
	//
	// default: 32
	StatusConcurrency int
	// AgentTimeout bounds one status or policy call to an agent.
	//
	// default: 5 seconds
	AgentTimeout time.Duration
	// EnsureAgentTLS, when set, is called with the namespace of every
	// CachePolicy before its agents are contacted, to create (or renew)
	// the Secret with the agents' TLS material there.
	//
	// default: nil (agents' TLS is managed outside the operator)
	EnsureAgentTLS func(ctx context.Context, namespace string) error
}

func (o *Options) defaults() {
	if o.Resync <= 0 {
		o.Resync = 30 * time.Second
	}
	if o.StatusConcurrency <= 0 {
		o.StatusConcurrency = 32
	}
	if o.AgentTimeout <= 0 {
		o.AgentTimeout = 5 * time.Second
	}
}

// Setup registers every reconciler with mgr.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.Agents == nil {
		return fmt.Errorf("controller: Options.Agents is required")
	}
	opts.defaults()
	if err := (&CachePolicyReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("cachepolicy-controller"), Options: opts}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("controller: cachepolicy: %w", err)
	}
	if err := (&CacheInvalidationReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("cacheinvalidation-controller"), Options: opts}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("controller: cacheinvalidation: %w", err)
	}
	if err := (&CacheSnapshotReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("cachesnapshot-controller"), Options: opts}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("controller: cachesnapshot: %w", err)
	}
	if err := (&CacheSnapshotScheduleReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("cachesnapshot-schedule")}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("controller: cachesnapshot schedule: %w", err)
	}
	return nil
}
