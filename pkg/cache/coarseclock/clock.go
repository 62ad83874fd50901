// Package coarseclock provides a clock that reads the system time on a
// goroutine of its own, once per resolution, so that reading it costs about
// as much as reading a variable, and that stops ticking while nobody reads
// it.
//
// A cache reads the time on every hit, and reading the precise time costs
// more than the rest of a hit, so caches read a coarse clock instead (as
// otter.CoarseClock is). A coarse clock that ticks for ever also wakes its
// goroutine once per resolution in a process that does nothing: a thousand
// wake-ups a second at 1 ms, which on a small VM is a few per cent of a CPU
// for every idle instance (an idle sidecar in every pod). This clock goes to
// sleep after a while without reads; the first read after that reads the
// precise time and wakes it.
package coarseclock

import (
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the clocks the memory layer and the Stack start for
// themselves: a read lags at most 1 ms behind, and a clock read by nobody
// for 10 ms sleeps (a process reading it once a second, as the memory
// layer's clean-up does, wakes it about 10 times a second instead of 1000).
const (
	DefaultResolution = time.Millisecond
	DefaultIdleAfter  = 10 * time.Millisecond
)

// Clock is a coarse clock that sleeps while nobody reads it. Create it with
// New; it is safe for concurrent use. It satisfies cache.Clock,
// memory.Clock and otter.Clock.
type Clock struct {
	now    atomic.Int64 // Unix nanoseconds as of the last tick or wake-up
	asleep atomic.Bool  // the goroutine waits for a read; reads take the precise time
	read   atomic.Bool  // read since the last tick

	resolution time.Duration
	idleTicks  int // ticks without a read before the goroutine sleeps

	mu      sync.Mutex    // serialises wake-ups and Stop
	stopped bool          // guarded by mu
	wake    chan struct{} // a read woke the goroutine; buffered
	stop    chan struct{} // closed by Stop
	done    chan struct{} // closed when the goroutine returns
}

// New returns a clock that reads the system time every resolution, and
// stops doing so after idleAfter without a read (at least one resolution).
// It panics if resolution is not positive. Stop it when done.
func New(resolution, idleAfter time.Duration) *Clock {
	if resolution <= 0 {
		panic("coarseclock: non-positive resolution")
	}
	c := &Clock{
		resolution: resolution,
		idleTicks:  max(1, int(idleAfter/resolution)),
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	c.now.Store(time.Now().UnixNano())
	c.read.Store(true)
	go c.run()
	return c
}

// NowNano returns the time in Unix nanoseconds, as of the last tick: up to
// one resolution behind (more when the goroutine cannot run in time). While
// the clock sleeps, and after Stop, it returns the precise time.
func (c *Clock) NowNano() int64 {
	if c.asleep.Load() {
		return c.wakeUp()
	}
	if !c.read.Load() {
		c.read.Store(true) // once per tick at most: the line stays shared
	}
	return c.now.Load()
}

// wakeUp is a read while the clock sleeps: it reads the precise time,
// stores it as the clock's (before clearing asleep, so that a read that
// sees the clock awake sees this time or a later one) and wakes the
// goroutine.
func (c *Clock) wakeUp() int64 {
	n := time.Now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || !c.asleep.Load() {
		return n
	}
	c.now.Store(n)
	c.read.Store(true)
	c.asleep.Store(false)
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return n
}

// run ticks until Stop, and sleeps after idleTicks ticks without a read.
func (c *Clock) run() {
	defer close(c.done)
	t := time.NewTicker(c.resolution)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.now.Store(time.Now().UnixNano())
		if c.read.Swap(false) {
			idle = 0
			continue
		}
		if idle++; idle < c.idleTicks {
			continue
		}
		t.Stop()
		c.asleep.Store(true)
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		idle = 0
		t.Reset(c.resolution)
	}
}

// Tick returns a channel that delivers ticks at intervals of d, as
// time.Tick does. otter's caches call it for their periodic clean-up.
func (c *Clock) Tick(d time.Duration) <-chan time.Time {
	return time.Tick(d)
}

// Stop stops the goroutine and waits for it. After Stop the clock reads the
// precise time on every call, so it is safe to stop it while others still
// read it. Stop is idempotent.
func (c *Clock) Stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	c.asleep.Store(true) // every read takes the precise time from now on
	c.mu.Unlock()
	close(c.stop)
	<-c.done
}
