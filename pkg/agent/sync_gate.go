package agent

import (
	"sync"
	"sync/atomic"
	"time"
)

// syncGate holds readiness after the local tiers were restored from a
// snapshot. The snapshot is as of its watermark: an invalidation that ran
// after it was taken is missing from the restored entries until the
// operator replays it, and until then the agent would serve what that
// invalidation removed. The operator confirms with POST PathSync once the
// watermark has reached the policy's last sequence; if it never does (no
// operator, or one that cannot reach the agent), the gate opens at the
// warming timeout anyway, so that a pod does not stay unready for good.
type syncGate struct {
	held  atomic.Bool
	mu    sync.Mutex  // protects timer
	timer *time.Timer // opens the gate at the timeout
}

// hold closes the gate until open is called or timeout passes; then
// onTimeout runs (on a goroutine of its own) if the gate was still held.
func (g *syncGate) hold(timeout time.Duration, onTimeout func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held.Store(true)
	g.stopTimerLocked()
	g.timer = time.AfterFunc(timeout, func() {
		if g.open() {
			onTimeout()
		}
	})
}

// open opens the gate and reports whether it was held.
func (g *syncGate) open() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopTimerLocked()
	return g.held.Swap(false)
}

// stop drops the timeout without opening the gate (the agent is stopping).
func (g *syncGate) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopTimerLocked()
}

// stopTimerLocked drops the timeout; mu is held.
func (g *syncGate) stopTimerLocked() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
}
