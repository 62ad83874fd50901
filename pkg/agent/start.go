package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Start builds the cache from the initial policy, starts its warm-up and
// serves the data API, the admin API and the probes until ctx ends. Then
// it shuts the servers down gracefully (at most Options.ShutdownTimeout),
// stops warming and closes the cache, and returns nil. It returns an error
// when a listener cannot be opened, the initial policy cannot be built or a
// server fails; everything it started is stopped first.
func (a *Agent) Start(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	lns, err := a.listen()
	if err != nil {
		return err
	}
	a.life, a.stopLife = context.WithCancel(context.WithoutCancel(ctx))
	defer a.stopLife()
	if err := a.startRuntime(ctx); err != nil {
		closeListeners(lns)
		return err
	}
	servers := []*http.Server{
		a.newServer(a.dataHandler()),
		a.newServer(a.adminHandler()),
		a.newServer(a.probeHandler()),
	}
	servers[1].TLSConfig = a.opts.AdminTLS.Clone()
	errc := make(chan error, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Go(func() {
			var err error
			if srv.TLSConfig != nil {
				err = srv.ServeTLS(lns[i], "", "")
			} else {
				err = srv.Serve(lns[i])
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("agent: serve %s: %w", lns[i].Addr(), err)
			}
		})
	}
	a.log.Info("agent serving", "data", lns[0].Addr().String(), "admin", lns[1].Addr().String(),
		"probes", lns[2].Addr().String(), "policyHash", a.initial.Hash, "session", a.session)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("agent: shutdown %s: %w", srv.Addr, err))
		}
	}
	wg.Wait()
	errs = append(errs, a.stopRuntime(sctx))
	if a.ownTransport != nil {
		a.ownTransport.CloseIdleConnections()
	}
	a.log.Info("agent stopped")
	return errors.Join(append([]error{serveErr}, errs...)...)
}

func (a *Agent) newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: DefaultReadHeaderTimeout,
		IdleTimeout:       DefaultIdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}

// listen returns the data, admin and probe listeners.
func (a *Agent) listen() ([]net.Listener, error) {
	specs := []struct {
		ln   net.Listener
		addr string
	}{
		{a.opts.DataListener, a.opts.DataAddr},
		{a.opts.AdminListener, a.opts.AdminAddr},
		{a.opts.ProbeListener, a.opts.ProbeAddr},
	}
	var lns []net.Listener
	for _, s := range specs {
		ln := s.ln
		if ln == nil {
			var err error
			if ln, err = net.Listen("tcp", s.addr); err != nil {
				closeListeners(lns)
				for _, s := range specs {
					if s.ln != nil {
						_ = s.ln.Close() // Start owns the given listeners
					}
				}
				return nil, fmt.Errorf("agent: listen: %w", err)
			}
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func closeListeners(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close() // never served: nothing to lose
	}
}

// startRuntime builds the initial policy's runtime and starts its warm-up.
func (a *Agent) startRuntime(ctx context.Context) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	rt, _, err := a.build(ctx, a.initial, nil)
	if err != nil {
		return fmt.Errorf("agent: initial policy: %w", err)
	}
	rt.appliedAt = time.Now()
	a.countSequencesOf(rt)
	// Before anything is served or warmed: the snapshot is the base the
	// warm-up and the operator's replays build on.
	a.restoreSnapshot(ctx, rt)
	a.install(rt)
	return nil
}

// stopRuntime stops warming, takes the current runtime out of service and
// closes it once its requests are done, and waits for every runtime being
// retired.
func (a *Agent) stopRuntime(ctx context.Context) error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	a.stopped = true
	a.warm.stop()
	a.synced.stop()
	rt := a.current.Swap(nil)
	a.metrics.use(nil)
	var err error
	if rt != nil {
		rt.drain()
		err = rt.close(ctx)
		rt.undrain()
	}
	a.retiring.Wait()
	return err
}

// install makes rt the current runtime and retires the previous one.
// applyMu is held.
func (a *Agent) install(rt *runtime) {
	a.warm.stop()
	prev := a.current.Load()
	a.activate(rt)
	if prev != nil {
		a.retire(prev)
	}
}

// activate makes rt the current runtime: the watermark counts its
// policy's invalidations, metrics follow it and its warm-up starts. applyMu
// is held and no warm-up runs.
func (a *Agent) activate(rt *runtime) {
	a.countSequencesOf(rt)
	a.current.Store(rt)
	a.metrics.use(rt)
	a.warm.start(a, rt)
}

// countSequencesOf makes the invalidation watermark count the sequences of
// rt's policy (see invalidationLog.usePolicy).
func (a *Agent) countSequencesOf(rt *runtime) {
	if err := a.inval.usePolicy(rt.policy.UID); err != nil {
		a.log.Warn("cannot record the invalidation watermark with the disk tier", "error", err)
	}
}
