package memory

import (
	"sync"
	"sync/atomic"
	"time"
)

const (
	// maintenanceEvery is how many writes (sets and deletes) the layer
	// lets pass between two maintenance passes of its store.
	maintenanceEvery = 16
	// maxHold is how long a held pass waits for that many writes before it
	// runs on a goroutine of its own.
	maxHold = 10 * time.Millisecond
)

// maintenance is the store's executor (otter.Options.Executor). The store
// asks for a maintenance pass (applying buffered reads and writes, evicting)
// after every write, and when its read buffer fills; by default it starts a
// goroutine for each. Behind a Stack the memory layer is written on every L2
// hit (the backfill), and with a working set larger than the bound every
// write also evicts: a goroutine per write then costs more than the pass, and
// on a machine whose cores are busy, waking another goroutine costs more
// still. Running each pass on the writer instead puts a whole pass on every
// write.
//
// So a pass asked for during a write is held, and the writer of every
// maintenanceEvery-th write runs it, handling all the writes since the
// previous pass; until then the store may hold up to that many entries over
// its bounds (its own write buffer allows more). While a pass is held the
// store asks for no other, and reads are not recorded once its read buffer
// is full, so a held pass that no write runs within maxHold runs on a
// goroutine of its own. A pass asked for outside a write (by reads) runs on
// a goroutine of its own at once, as with the store's default executor: on
// the reader it would slow L1 hits. A pass asked for while another is held
// runs at once on the caller, so none is ever dropped.
//
// The layer sets no deletion handler and no refresh, which are the other
// tasks a store hands its executor, and no function that the store calls
// under its locks reads the store, which is what makes running a pass on a
// caller of the store safe (see otter.Options.Executor).
type maintenance struct {
	mu      sync.Mutex
	pending func()      // the held pass; guarded by mu
	timer   *time.Timer // runs a held pass after maxHold; guarded by mu
	closed  bool        // no more timers; guarded by mu
	writes  atomic.Uint32
	writing atomic.Int32 // writes in progress

	// hold overrides maxHold when positive; set before first use (tests
	// make it long, so that what they check does not depend on timing).
	hold time.Duration
}

// execute is the store's executor.
func (m *maintenance) execute(fn func()) {
	if m.writing.Load() == 0 {
		go fn()
		return
	}
	m.mu.Lock()
	if m.pending != nil || m.closed {
		m.mu.Unlock()
		fn()
		return
	}
	m.pending = fn
	hold := maxHold
	if m.hold > 0 {
		hold = m.hold
	}
	if m.timer == nil {
		m.timer = time.AfterFunc(hold, m.run)
	} else {
		m.timer.Reset(hold)
	}
	m.mu.Unlock()
}

// beginWrite marks a write of the store in progress; endWrite ends it,
// counts it and, on every maintenanceEvery-th write, runs the held pass.
func (m *maintenance) beginWrite() { m.writing.Add(1) }

func (m *maintenance) endWrite() {
	m.writing.Add(-1)
	if m.writes.Add(1)%maintenanceEvery == 0 {
		m.run()
	}
}

// run runs the held pass, if any.
func (m *maintenance) run() {
	m.mu.Lock()
	fn := m.pending
	m.pending = nil
	m.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// close runs the held pass and stops the timer; later passes asked for
// during writes run at once.
func (m *maintenance) close() {
	m.mu.Lock()
	m.closed = true
	if m.timer != nil {
		m.timer.Stop()
	}
	m.mu.Unlock()
	m.run()
}
