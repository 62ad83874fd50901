package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
)

// warmer runs the warm-up of the current policy: its keys loaded through
// their origins (View.Warm, keys already cached left alone), bounded by
// Warming.Timeout. A new policy cancels the running warm-up before its own
// starts.
//
// Readiness: with Warming.ReadinessGate, /readyz fails until a gated
// warm-up has finished or timed out once since Start; later policies never
// take readiness away again, so a policy rollout cannot empty a Service.
type warmer struct {
	mu     sync.Mutex // protects cancel and done
	cancel context.CancelFunc
	done   chan struct{} // closed when the running warm-up has returned

	gateHeld atomic.Bool // a gated warm-up is running
	gateDone atomic.Bool // a gated warm-up has finished since Start
	status   atomic.Pointer[agentapi.WarmingStatus]
}

// start runs rt's warm-up in a goroutine that stop waits for. applyMu is
// held, so rt is current and cannot be retired before the goroutine has
// entered it.
func (w *warmer) start(a *Agent, rt *runtime) {
	wp := rt.policy.Warming
	total := len(wp.Keys)
	w.status.Store(&agentapi.WarmingStatus{Total: total, Complete: total == 0})
	gated := wp.ReadinessGate && total > 0 && !w.gateDone.Load()
	w.gateHeld.Store(gated)
	if total == 0 || !rt.enter() {
		return
	}
	timeout := wp.Timeout.Std()
	if timeout == 0 {
		timeout = agentapi.DefaultWarmingTimeout
	}
	ctx, cancel := context.WithTimeout(a.life, timeout)
	done := make(chan struct{})
	w.mu.Lock()
	w.cancel, w.done = cancel, done
	w.mu.Unlock()
	go func() {
		defer close(done)
		defer cancel()
		defer rt.leave()
		report, err := rt.view.Warm(ctx, warmEntries(rt, wp.Keys), cache.WarmOptions{
			Concurrency: wp.Concurrency,
			Progress: func(p cache.WarmProgress) {
				w.status.Store(&agentapi.WarmingStatus{Total: p.Total, Done: p.Done, Failed: p.Failed})
			},
		})
		superseded := errors.Is(ctx.Err(), context.Canceled)
		st := agentapi.WarmingStatus{Total: total, Done: report.Loaded + report.Failed, Failed: report.Failed,
			Complete: true, TimedOut: errors.Is(ctx.Err(), context.DeadlineExceeded)}
		w.status.Store(&st)
		a.log.Info("warm-up ended", "policyHash", rt.policy.Hash, "total", st.Total, "done", st.Done,
			"failed", st.Failed, "timedOut", st.TimedOut, "superseded", superseded, "error", err)
		if gated && !superseded {
			w.gateDone.Store(true)
			w.gateHeld.Store(false)
		}
	}()
}

// stop cancels the running warm-up, if any, and waits for it.
func (w *warmer) stop() {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.cancel, w.done = nil, nil
	w.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// snapshot returns the latest warm-up's progress.
func (w *warmer) snapshot() agentapi.WarmingStatus {
	if st := w.status.Load(); st != nil {
		return *st
	}
	return agentapi.WarmingStatus{Complete: true}
}

func warmEntries(rt *runtime, keys []string) []cache.WarmEntry[json.RawMessage] {
	entries := make([]cache.WarmEntry[json.RawMessage], 0, len(keys))
	for _, k := range keys {
		fetch, opts, ok := rt.origins.fetcher(k)
		if !ok {
			key := k
			fetch = func(context.Context) (json.RawMessage, error) {
				return nil, fmt.Errorf("agent: warm %q: no origin matches the key", key)
			}
		}
		entries = append(entries, cache.WarmEntry[json.RawMessage]{Key: k, Fetch: fetch, Options: opts})
	}
	return entries
}
