package singleflight

import (
	"sync"
	"sync/atomic"
	"time"
)

// Worker reuse bounds. A goroutine that has run a call waits
// defaultIdleTimeout for the next one before it exits, and at most
// maxIdleWorkers wait at once: a burst of misses leaves a few goroutines
// behind for a moment, not one per miss.
const (
	defaultIdleTimeout = time.Second
	maxIdleWorkers     = 64
)

// workers runs functions on goroutines that it keeps for reuse. A new
// goroutine starts with a small stack, and the stack is copied each time it
// has to grow; a cache's fetch path (the caller's fetcher, then the store
// into the memory layer) grows it several times, which in miss-heavy
// benchmarks cost as much as the rest of the miss. A goroutine that is
// reused keeps the stack it grew.
//
// The zero value is ready to use. close makes idle goroutines exit and waits
// for all of them; functions run after close each get a goroutine that exits
// when they return.
type workers struct {
	initOnce  sync.Once
	handoff   chan func()   // unbuffered: a send succeeds only while a worker waits
	stop      chan struct{} // closed by close
	closeOnce sync.Once
	// alive counts goroutines started and not yet exited; exited is
	// signalled when it drops to zero. (A sync.WaitGroup would panic when
	// run starts a goroutine while close waits, which the Group allows.)
	aliveMu sync.Mutex
	alive   int          // guarded by aliveMu
	exited  *sync.Cond   // made by init
	idle    atomic.Int32 // goroutines waiting on handoff

	// idleTimeout overrides defaultIdleTimeout when positive; set before
	// first use (tests make it long, so that reuse does not depend on timing).
	idleTimeout time.Duration
}

func (w *workers) init() {
	w.initOnce.Do(func() {
		w.handoff = make(chan func())
		w.stop = make(chan struct{})
		w.exited = sync.NewCond(&w.aliveMu)
	})
}

// run calls fn on an idle goroutine, or on a new one if none is idle. It
// does not wait for fn.
func (w *workers) run(fn func()) {
	w.init()
	select {
	case w.handoff <- fn:
		return
	default:
	}
	w.aliveMu.Lock()
	w.alive++
	w.aliveMu.Unlock()
	go w.loop(fn)
}

// loop runs fn, then the functions handed to it, until it has been idle for
// the idle timeout, too many others are idle, or close is called. A
// function that calls runtime.Goexit ends the goroutine; the next run starts
// another.
func (w *workers) loop(fn func()) {
	defer func() {
		w.aliveMu.Lock()
		if w.alive--; w.alive == 0 {
			w.exited.Broadcast()
		}
		w.aliveMu.Unlock()
	}()
	timeout := defaultIdleTimeout
	if w.idleTimeout > 0 {
		timeout = w.idleTimeout
	}
	var timer *time.Timer
	for {
		fn()
		if !w.reserveIdle() {
			break
		}
		if timer == nil {
			timer = time.NewTimer(timeout)
		} else {
			timer.Reset(timeout)
		}
		var ok bool
		select {
		case fn, ok = <-w.handoff:
		case <-timer.C:
		case <-w.stop:
		}
		w.idle.Add(-1)
		if !ok {
			break
		}
	}
	if timer != nil {
		timer.Stop()
	}
}

// reserveIdle counts the calling goroutine as idle, unless maxIdleWorkers
// already are; then the goroutine exits instead.
func (w *workers) reserveIdle() bool {
	if w.idle.Add(1) > maxIdleWorkers {
		w.idle.Add(-1)
		return false
	}
	return true
}

// close makes idle goroutines exit, and waits until every goroutine started
// so far has finished its function and exited.
func (w *workers) close() {
	w.init()
	w.closeOnce.Do(func() { close(w.stop) })
	w.aliveMu.Lock()
	for w.alive > 0 {
		w.exited.Wait()
	}
	w.aliveMu.Unlock()
}
