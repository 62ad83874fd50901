package memory

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// write is one write of the layer, during which the store may ask for a
// pass (ask).
func write(m *maintenance, ask func()) {
	m.beginWrite()
	if ask != nil {
		m.execute(ask)
	}
	m.endWrite()
}

// heldMaintenance returns an executor whose held passes wait an hour for
// writes, so that only writes run them during a test.
func heldMaintenance(t *testing.T) *maintenance {
	t.Helper()
	m := &maintenance{hold: time.Hour}
	t.Cleanup(m.close)
	return m
}

func TestPassAskedForDuringAWriteRunsOnEverySixteenthWrite(t *testing.T) {
	t.Parallel()
	m := heldMaintenance(t)
	runs := 0
	write(m, func() { runs++ })
	for i := 2; i < maintenanceEvery; i++ {
		write(m, nil)
		if runs != 0 {
			t.Fatalf("the pass ran after %d writes, want it held until write %d", i, maintenanceEvery)
		}
	}
	write(m, nil)
	if runs != 1 {
		t.Fatalf("the pass ran %d times after %d writes, want once", runs, maintenanceEvery)
	}
	for range maintenanceEvery {
		write(m, nil)
	}
	if runs != 1 {
		t.Fatalf("the pass ran %d times, want once: nothing was held the second time", runs)
	}
}

func TestPassAskedForOutsideAWriteRunsAtOnce(t *testing.T) {
	t.Parallel()
	var m maintenance
	ran := make(chan struct{})
	m.execute(func() { close(ran) }) // a reader's: on a goroutine of its own
	waitRan(t, ran, "a pass asked for with no write in progress")
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending != nil {
		t.Fatal("a pass asked for with no write in progress was held")
	}
}

func TestHeldPassRunsWithoutFurtherWrites(t *testing.T) {
	t.Parallel()
	m := &maintenance{hold: time.Millisecond}
	t.Cleanup(m.close)
	ran := make(chan struct{})
	write(m, func() { close(ran) })
	waitRan(t, ran, "a held pass with no further writes") // on the timer, after hold
}

func TestPassAskedForWhileOneIsHeldRunsAtOnce(t *testing.T) {
	t.Parallel()
	m := heldMaintenance(t)
	var order []string
	m.beginWrite()
	m.execute(func() { order = append(order, "first") })
	m.execute(func() { order = append(order, "second") })
	m.writing.Add(-1) // the write ends without counting towards a run
	if fmt.Sprint(order) != "[second]" {
		t.Fatalf("ran %v before any write, want [second]: the first is held, the second cannot be", order)
	}
	m.run()
	if fmt.Sprint(order) != "[second first]" {
		t.Fatalf("ran %v, want [second first]", order)
	}
}

// The store evicts on the writer's goroutine: right after the writes, with
// no clean-up called and no goroutine waited for, the layer is within its
// bound.
func TestWritesKeepTheLayerWithinItsBoundWithoutBackgroundWork(t *testing.T) {
	t.Parallel()
	const maxEntries = 10
	l := newLayer(t, Options{MaxEntries: maxEntries})
	l.maint.hold = time.Hour // only the writes run passes
	ctx := context.Background()
	for i := range 63 * maintenanceEvery {
		if err := l.Set(ctx, fmt.Sprintf("key:%d", i), valueEntry("v")); err != nil {
			t.Fatal(err)
		}
		if n := l.store.EstimatedSize(); n > maxEntries+maintenanceEvery {
			t.Fatalf("%d entries after %d writes, want at most %d + %d", n, i+1, maxEntries, maintenanceEvery)
		}
	}
	if n := l.store.EstimatedSize(); n > maxEntries {
		t.Fatalf("%d entries right after a multiple of %d writes, want at most %d", n, maintenanceEvery, maxEntries)
	}
}

// waitRan waits for ran to be closed; a pass that never runs fails the
// test after 10 seconds instead of hanging it.
func waitRan(t *testing.T, ran <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never ran", what)
	}
}
