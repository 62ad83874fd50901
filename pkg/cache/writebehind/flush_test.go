package writebehind_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/layercache/layercache/pkg/cache/writebehind"
)

func TestFlushOnBatchSize(t *testing.T) {
	r := newRecorder(newMemory(t))
	l := newLayer(t, r, writebehind.Options{BatchSize: 3, Tick: noTick()})
	mustSet(t, l, "a", "1")
	mustSet(t, l, "b", "1")
	// Nothing can have triggered a flush yet: no tick, batch not full.
	if got := r.history(); len(got) != 0 {
		t.Fatalf("inner received %v with 2 of 3 writes queued, want nothing", got)
	}
	mustSet(t, l, "c", "1")
	if got, want := r.next(t), (call{"set", []string{"a", "b", "c"}}); !equalCalls([]call{got}, []call{want}) {
		t.Fatalf("inner received %v, want %v", got, want)
	}
	flush(t, l) // waits for the flusher to finish the batch
	if got := l.Stats(); got.Pending != 0 || got.Flushed != 3 || got.Flushes != 1 {
		t.Errorf("Stats() = %+v, want Pending 0, Flushed 3, Flushes 1", got)
	}
}

func TestFlushOnTick(t *testing.T) {
	tick := make(chan time.Time)
	r := newRecorder(newMemory(t))
	l := newLayer(t, r, writebehind.Options{Tick: tick})
	for _, k := range []string{"a", "b", "c"} {
		mustSet(t, l, k, "1")
	}
	wantAbsent(t, r.Layer, "a")
	tick <- time.Now()
	if got, want := r.next(t), (call{"set", []string{"a", "b", "c"}}); !equalCalls([]call{got}, []call{want}) {
		t.Fatalf("inner received %v after a tick, want %v", got, want)
	}
	wantValue(t, r.Layer, "c", "1")
}

// With default options, a lone write reaches the inner layer after exactly
// DefaultFlushInterval (the reference library had no interval and kept it
// queued until 100 writes accumulated). synctest's fake clock makes the
// wait instant and the elapsed time exact.
func TestFlushIntervalByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder(newMemory(t))
		l := newLayer(t, r, writebehind.Options{})
		start := time.Now()
		mustSet(t, l, "a", "1")
		got := r.next(t)
		if elapsed := time.Since(start); elapsed != writebehind.DefaultFlushInterval {
			t.Errorf("write reached inner after %s, want %s", elapsed, writebehind.DefaultFlushInterval)
		}
		if want := (call{"set", []string{"a"}}); !equalCalls([]call{got}, []call{want}) {
			t.Errorf("inner received %v, want %v", got, want)
		}
	})
}

func TestFlushWritesQueuedWrites(t *testing.T) {
	r := newRecorder(newMemory(t))
	l := newLayer(t, r, writebehind.Options{BatchSize: 2, MaxPending: 10, Tick: noTick()})
	if err := l.Flush(context.Background()); err != nil {
		t.Fatalf("Flush of an empty queue: %v", err)
	}
	mustSet(t, l, "a", "1")
	flush(t, l)
	want := []call{{"set", []string{"a"}}}
	if got := r.history(); !equalCalls(got, want) {
		t.Errorf("inner received %v, want %v", got, want)
	}
}

func TestCloseFlushesPending(t *testing.T) {
	r := newRecorder(newMemory(t))
	mustSet(t, r.Layer, "gone", "old")
	l, err := writebehind.New(r, writebehind.Options{BatchSize: 2, MaxPending: 10, Tick: noTick()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mustSet(t, l, "a", "1")
	if err := l.Delete(context.Background(), "gone"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	r.next(t) // the full batch [a, gone] went out by itself; queue c alone
	mustSet(t, l, "c", "1")
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := []call{
		{"set", []string{"a"}},
		{"delete", []string{"gone"}},
		{"set", []string{"c"}},
		{op: "close"},
	}
	if got := r.history(); !equalCalls(got, want) {
		t.Errorf("inner received %v, want %v (every write before Close)", got, want)
	}
	if got := l.Stats(); got.Pending != 0 || got.Flushed != 3 || got.Dropped != 0 {
		t.Errorf("Stats() after Close = %+v, want Pending 0, Flushed 3, Dropped 0", got)
	}
}

func TestFailedFlushIsRetried(t *testing.T) {
	f := &failing{Layer: newMemory(t), n: 2}
	l := newLayer(t, f, writebehind.Options{MaxRetries: 3, RetryBackoff: time.Nanosecond, Tick: noTick()})
	mustSet(t, l, "a", "1")
	flush(t, l)
	if got := f.setManyCalls(); got != 3 {
		t.Errorf("SetMany called %d times, want 3 (2 failures, then success)", got)
	}
	wantValue(t, f.Layer, "a", "1")
	want := writebehind.Stats{Flushed: 1, Failed: 2, Flushes: 1}
	if got := l.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

// errorLog is an Options.OnError that records its calls.
type errorLog struct {
	mu   sync.Mutex
	keys [][]string
	errs []error
}

func (e *errorLog) record(keys []string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keys = append(e.keys, keys)
	e.errs = append(e.errs, err)
}

func (e *errorLog) calls() ([][]string, []error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.keys), slices.Clone(e.errs)
}

func TestFlushDropsAfterRetriesAndReports(t *testing.T) {
	ctx := context.Background()
	f := &failing{Layer: newMemory(t), n: 1000}
	mustSet(t, f.Layer, "c", "inner")
	var log errorLog
	l := newLayer(t, f, writebehind.Options{
		MaxRetries:   2,
		RetryBackoff: time.Nanosecond,
		Tick:         noTick(),
		OnError:      log.record,
	})
	mustSet(t, l, "a", "1")
	mustSet(t, l, "b", "1")
	if err := l.Delete(ctx, "c"); err != nil { // DeleteMany works
		t.Fatalf("Delete(c): %v", err)
	}

	err := l.Flush(ctx)
	if !errors.Is(err, writebehind.ErrDropped) || !errors.Is(err, errFlaky) {
		t.Errorf("Flush = %v, want an error wrapping ErrDropped and the inner error", err)
	}
	if got := f.setManyCalls(); got != 3 {
		t.Errorf("SetMany called %d times, want 3 (1 + MaxRetries)", got)
	}
	keys, errs := log.calls()
	if len(keys) != 1 || !slices.Equal(keys[0], []string{"a", "b"}) {
		t.Errorf("OnError keys = %v, want one call with [a b]", keys)
	}
	if len(errs) == 1 && (!errors.Is(errs[0], writebehind.ErrDropped) || !errors.Is(errs[0], errFlaky)) {
		t.Errorf("OnError err = %v, want it to wrap ErrDropped and the inner error", errs[0])
	}
	want := writebehind.Stats{Flushed: 1, Failed: 3, Dropped: 2, Flushes: 1}
	if got := l.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	// The dropped writes no longer hide the inner layer's state.
	wantAbsent(t, l, "a")
	wantAbsent(t, l, "c")
}

func TestCloseTimeoutDropsWhatIsLeft(t *testing.T) {
	g := newGated(newMemory(t)) // never opened: SetMany waits for its context
	var log errorLog
	l, err := writebehind.New(g, writebehind.Options{
		CloseTimeout: time.Millisecond,
		Tick:         noTick(),
		OnError:      log.record,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	mustSet(t, l, "a", "1")
	mustSet(t, l, "b", "1")
	err = l.Close()
	if !errors.Is(err, writebehind.ErrDropped) || !errors.Is(err, writebehind.ErrCloseTimeout) {
		t.Errorf("Close = %v, want an error wrapping ErrDropped and ErrCloseTimeout", err)
	}
	if keys, _ := log.calls(); len(keys) != 1 || !slices.Equal(keys[0], []string{"a", "b"}) {
		t.Errorf("OnError keys = %v, want one call with [a b]", keys)
	}
	if got := l.Stats(); got.Dropped != 2 || got.Pending != 0 {
		t.Errorf("Stats() = %+v, want Dropped 2, Pending 0", got)
	}
}

// fullQueue returns a layer whose queue is full: a and b are being written
// (held by the gate) and c is queued, with MaxPending 3.
func fullQueue(t *testing.T, onFull writebehind.FullPolicy) (*writebehind.Layer, *gated) {
	t.Helper()
	g := newGated(newMemory(t))
	l := newLayer(t, g, writebehind.Options{BatchSize: 2, MaxPending: 3, OnFull: onFull, Tick: noTick()})
	mustSet(t, l, "a", "1")
	mustSet(t, l, "b", "1")
	g.waitEntered(t)
	mustSet(t, l, "c", "1")
	if got := l.Stats().Pending; got != 3 {
		t.Fatalf("Stats().Pending = %d, want 3", got)
	}
	return l, g
}

func TestFullQueueBlocksWriters(t *testing.T) {
	l, g := fullQueue(t, writebehind.Block)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Set(cancelled, "c", entry("2")); err != nil {
		t.Errorf("Set of a queued key into a full queue = %v, want nil (it replaces the queued write)", err)
	}
	if err := l.Set(cancelled, "d", entry("1")); !errors.Is(err, context.Canceled) {
		t.Errorf("Set(d) into a full queue with a cancelled context = %v, want context.Canceled", err)
	}

	done := make(chan error, 1)
	go func() { done <- l.Set(context.Background(), "d", entry("1")) }()
	close(g.open) // the batch completes and makes room
	if err := <-done; err != nil {
		t.Fatalf("blocked Set(d) = %v, want nil once there is room", err)
	}
	flush(t, l)
	for k, v := range map[string]string{"a": "1", "b": "1", "c": "2", "d": "1"} {
		wantValue(t, g.Layer, k, v)
	}
}

func TestFullQueueRejectsWriters(t *testing.T) {
	ctx := context.Background()
	l, g := fullQueue(t, writebehind.Reject)
	if err := l.Set(ctx, "d", entry("1")); !errors.Is(err, writebehind.ErrQueueFull) {
		t.Errorf("Set(d) into a full queue = %v, want ErrQueueFull", err)
	}
	if err := l.Delete(ctx, "e"); !errors.Is(err, writebehind.ErrQueueFull) {
		t.Errorf("Delete(e) into a full queue = %v, want ErrQueueFull", err)
	}
	if err := l.Set(ctx, "c", entry("2")); err != nil {
		t.Errorf("Set of a queued key into a full queue = %v, want nil", err)
	}
	close(g.open)
	flush(t, l)
	if err := l.Set(ctx, "d", entry("1")); err != nil {
		t.Errorf("Set(d) after the flush = %v, want nil", err)
	}
}

func TestCloseWakesBlockedWriters(t *testing.T) {
	l, g := fullQueue(t, writebehind.Block)
	blocked := make(chan error, 1)
	go func() { blocked <- l.Set(context.Background(), "d", entry("1")) }()
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	// The gate is still shut, so the queue stays full: the writer can only
	// return because Close woke it.
	if err := <-blocked; !errors.Is(err, writebehind.ErrClosed) {
		t.Errorf("Set blocked on a full queue during Close = %v, want ErrClosed", err)
	}
	close(g.open)
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if got := l.Stats(); got.Flushed != 3 || got.Dropped != 0 {
		t.Errorf("Stats() after Close = %+v, want Flushed 3 (a, b, c), Dropped 0", got)
	}
}

// A Clear while a failed batch waits to be retried discards the batch: it
// is not written, dropped or reported. synctest makes the backoff instant.
func TestClearDiscardsBatchWaitingForRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &failing{Layer: newMemory(t), n: 1000}
		var log errorLog
		l := newLayer(t, f, writebehind.Options{
			RetryBackoff: time.Second,
			Tick:         noTick(),
			OnError:      log.record,
		})
		mustSet(t, l, "a", "1")
		flushed := make(chan error, 1)
		go func() { flushed <- l.Flush(context.Background()) }()
		synctest.Wait() // the first attempt failed; the flusher waits to retry
		if err := l.Clear(context.Background()); err != nil {
			t.Fatalf("Clear: %v", err)
		}
		if err := <-flushed; err != nil {
			t.Errorf("Flush = %v, want nil (Clear discarded the batch)", err)
		}
		if got := f.setManyCalls(); got != 1 {
			t.Errorf("SetMany called %d times, want 1 (no retry after Clear)", got)
		}
		if keys, _ := log.calls(); len(keys) != 0 {
			t.Errorf("OnError called with %v, want no calls", keys)
		}
		want := writebehind.Stats{Failed: 1}
		if got := l.Stats(); got != want {
			t.Errorf("Stats() = %+v, want %+v", got, want)
		}
	})
}
