package agent

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/tagindex"
)

// ErrNotRunning is returned by Use before Start has built the cache and
// after it has shut down.
var ErrNotRunning = errors.New("agent: not running")

// ErrStarted is returned by a second call of Start.
var ErrStarted = errors.New("agent: Start called twice")

// Agent serves a policy-driven cache. Create it with New and run it with
// Start.
type Agent struct {
	opts    Options
	log     *slog.Logger
	session string
	initial agentapi.Policy

	client       *http.Client    // origins
	ownTransport *http.Transport // closed at shutdown; nil with Options.HTTPClient
	marks        *fetchMarks
	localTags    *tagindex.Index // the local tiers' tag index, for the agent's lifetime
	inval        *invalidationLog
	snaps        *snapshotLog
	warm         warmer
	synced       syncGate // held after a restore from a snapshot
	metrics      *metrics

	current atomic.Pointer[runtime]
	// applyMu serialises policy changes (and the start and end of a
	// runtime's life).
	applyMu  sync.Mutex
	stopped  bool // Start is shutting down: no policy may be applied; under applyMu
	rejected atomic.Pointer[agentapi.PolicyRejection]
	// opsMu serialises invalidations and snapshots, so that a snapshot's
	// watermark is exact.
	opsMu sync.Mutex

	// sharedTagErrors counts failed best-effort updates of the shared
	// tag index.
	sharedTagErrors atomic.Uint64

	// life ends when Start shuts down; it is the parent of work that
	// outlives a request (warming, closing replaced runtimes).
	life     context.Context
	stopLife context.CancelFunc
	retiring sync.WaitGroup // retire goroutines
	started  atomic.Bool
}

// New validates opts, reads and validates the bootstrap policy, and
// returns an Agent ready to Start. It opens no listener and no layer.
func New(opts Options) (*Agent, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	a := &Agent{opts: o, log: o.Logger, session: rand.Text(), marks: newFetchMarks(),
		inval: newInvalidationLog(DefaultRememberedInvalidations), snaps: newSnapshotLog(DefaultRememberedSnapshots)}
	switch {
	case o.BootstrapFile != "":
		if a.initial, err = loadPolicyFile(o.BootstrapFile); err != nil {
			return nil, err
		}
	case o.Policy != nil:
		a.initial = *o.Policy
	}
	if err := a.initial.Validate(); err != nil {
		return nil, fmt.Errorf("agent: initial policy: %w", err)
	}
	if a.initial.Hash, err = a.initial.ComputeHash(); err != nil {
		return nil, err
	}
	if a.localTags, err = tagindex.New(tagindex.Options{}); err != nil {
		return nil, fmt.Errorf("agent: tag index: %w", err)
	}
	a.client = o.HTTPClient
	if a.client == nil {
		a.ownTransport = newTransport()
		a.client = &http.Client{Transport: a.ownTransport}
	}
	if a.metrics, err = newMetrics(a); err != nil {
		return nil, err
	}
	return a, nil
}

// newTransport returns the transport of the default origin client.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// loadPolicyFile reads a policy document, strictly (unknown fields are
// errors).
func loadPolicyFile(path string) (agentapi.Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return agentapi.Policy{}, fmt.Errorf("agent: bootstrap policy: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only
	p, err := agentapi.Decode[agentapi.Policy](f, agentapi.MaxPolicyBytes)
	if err != nil {
		return agentapi.Policy{}, fmt.Errorf("agent: bootstrap policy %s: %w", path, err)
	}
	return p, nil
}

// SessionID returns the random id of this Agent, reported in Status.
func (a *Agent) SessionID() string { return a.session }

// Use calls fn with the cache of the applied policy, for programs that
// embed the agent. The Stack stays usable until fn returns, even if a new
// policy replaces it meanwhile; fn must not keep it. Use returns
// ErrNotRunning when the agent is not serving.
func (a *Agent) Use(fn func(s *cache.Stack) error) error {
	rt, leave := a.acquire()
	defer leave()
	if rt == nil {
		return ErrNotRunning
	}
	return fn(rt.stack)
}

// Ready reports what /readyz answers: the agent serves a policy, no
// readiness gate is held by warming, and, after a restore from a snapshot,
// the operator has confirmed the invalidations since (see syncGate).
func (a *Agent) Ready() bool {
	return a.current.Load() != nil && !a.warm.gateHeld.Load() && !a.synced.held.Load()
}

// sharedTagFailed counts and logs a failed update of the shared tag index.
func (a *Agent) sharedTagFailed(err error) {
	if a.sharedTagErrors.Add(1)%100 == 1 { // the first of every hundred
		a.log.Warn("shared tag index update failed", "error", err, "failures", a.sharedTagErrors.Load())
	}
}
