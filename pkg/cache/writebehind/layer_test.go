package writebehind_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layertest"
	"github.com/layercache/layercache/pkg/cache/writebehind"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func() writebehind.Options
	}{
		// Writes stay queued for the whole sub-test: every read is
		// answered from the queue or, for keys never written, by inner.
		{"Queued", func() writebehind.Options {
			return writebehind.Options{BatchSize: 10_000, Tick: noTick()}
		}},
		// Every write is flushed at once, concurrently with the reads.
		{"FlushedEachWrite", func() writebehind.Options {
			return writebehind.Options{BatchSize: 1}
		}},
		{"Defaults", func() writebehind.Options { return writebehind.Options{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layertest.Run(t, func(t *testing.T) cache.Layer {
				return newLayer(t, newMemory(t), tc.opts())
			})
		})
	}
}

func TestInfoIsInnerInfo(t *testing.T) {
	m := newMemory(t)
	l := newLayer(t, m, writebehind.Options{})
	if got, want := l.Info(), m.Info(); got != want {
		t.Errorf("Info() = %+v, want the inner layer's %+v", got, want)
	}
}

func TestWritesReachInnerOnlyWhenFlushed(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t)
	mustSet(t, m, "gone", "old")
	mustSet(t, m, "kept", "old")
	l := newLayer(t, m, writebehind.Options{Tick: noTick()})

	mustSet(t, l, "new", "v")
	mustSet(t, l, "kept", "v2")
	if err := l.Delete(ctx, "gone"); err != nil {
		t.Fatalf("Delete(gone): %v", err)
	}
	// Before the flush: the layer answers from its queue, inner is as it was.
	wantValue(t, l, "new", "v")
	wantValue(t, l, "kept", "v2")
	wantAbsent(t, l, "gone")
	wantAbsent(t, m, "new")
	wantValue(t, m, "kept", "old")
	wantValue(t, m, "gone", "old")
	if got := l.Stats().Pending; got != 3 {
		t.Errorf("Stats().Pending before Flush = %d, want 3", got)
	}

	flush(t, l)
	wantValue(t, m, "new", "v")
	wantValue(t, m, "kept", "v2")
	wantAbsent(t, m, "gone")
	got := l.Stats()
	want := writebehind.Stats{Pending: 0, Flushed: 3, Flushes: 1}
	if got != want {
		t.Errorf("Stats() after Flush = %+v, want %+v", got, want)
	}
}

func TestReadsMergeQueueAndInner(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t)
	for _, k := range []string{"a", "b", "c"} {
		mustSet(t, m, k, "inner-"+k)
	}
	l := newLayer(t, m, writebehind.Options{Tick: noTick()})
	mustSet(t, l, "b", "queued-b")
	mustSet(t, l, "d", "queued-d")
	if err := l.Delete(ctx, "c"); err != nil {
		t.Fatalf("Delete(c): %v", err)
	}
	expired := entry("old")
	expired.FreshUntil = time.Now().Add(-time.Minute).UnixNano()
	if err := l.Set(ctx, "a", expired); err != nil {
		t.Fatalf("Set(a, expired): %v", err)
	}

	keys := []string{"a", "b", "c", "d", "e"}
	entries, found, err := l.GetMany(ctx, keys)
	if err != nil {
		t.Fatalf("GetMany(%v): %v", keys, err)
	}
	var got []string
	for i := range keys {
		if found[i] {
			got = append(got, keys[i]+"="+valueOf(entries[i]))
		}
	}
	// a: the queued write is expired, which hides inner's older value.
	if want := []string{"b=queued-b", "d=queued-d"}; !slices.Equal(got, want) {
		t.Errorf("GetMany(%v) found %v, want %v", keys, got, want)
	}

	var scanned []string
	if err := l.Scan(ctx, "", func(k string) bool { scanned = append(scanned, k); return true }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	slices.Sort(scanned)
	if want := []string{"b", "d"}; !slices.Equal(scanned, want) {
		t.Errorf("Scan(\"\") = %v, want %v", scanned, want)
	}
}

func TestReadsSeeBatchWhileItIsWritten(t *testing.T) {
	g := newGated(newMemory(t))
	l := newLayer(t, g, writebehind.Options{BatchSize: 2, Tick: noTick()})
	mustSet(t, l, "a", "1")
	mustSet(t, l, "b", "2")
	g.waitEntered(t) // the batch has left the queue and is being written
	wantValue(t, l, "a", "1")
	wantValue(t, l, "b", "2")
	wantAbsent(t, g.Layer, "a")
	if got := l.Stats().Pending; got != 2 {
		t.Errorf("Stats().Pending while the batch is written = %d, want 2", got)
	}
	mustSet(t, l, "a", "newer") // queued behind the batch being written
	wantValue(t, l, "a", "newer")
	close(g.open)
	flush(t, l)
	wantValue(t, g.Layer, "a", "newer")
	wantValue(t, g.Layer, "b", "2")
}

func TestCoalescing(t *testing.T) {
	ctx := context.Background()
	r := newRecorder(newMemory(t))
	mustSet(t, r.Layer, "d", "inner")
	l := newLayer(t, r, writebehind.Options{Tick: noTick()})

	mustSet(t, l, "k", "v1")
	mustSet(t, l, "k", "v2")
	mustSet(t, l, "d", "v1")
	if err := l.Delete(ctx, "d"); err != nil { // cancels the set of d
		t.Fatalf("Delete(d): %v", err)
	}
	if err := l.SetMany(ctx, []cache.Item{{Key: "k", Entry: entry("v3")}}); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	if got := l.Stats(); got.Pending != 2 || got.Coalesced != 3 {
		t.Errorf("Stats() = %+v, want Pending 2, Coalesced 3", got)
	}
	flush(t, l)

	want := []call{{"set", []string{"k"}}, {"delete", []string{"d"}}}
	if got := r.history(); !equalCalls(got, want) {
		t.Errorf("inner received %v, want %v", got, want)
	}
	wantValue(t, r.Layer, "k", "v3")
	wantAbsent(t, r.Layer, "d")
}

func TestQueueKeepsFirstPositionOfKey(t *testing.T) {
	r := newRecorder(newMemory(t))
	l := newLayer(t, r, writebehind.Options{BatchSize: 3, Tick: noTick()})
	mustSet(t, l, "a", "1")
	mustSet(t, l, "b", "1")
	mustSet(t, l, "a", "2") // a keeps its place ahead of b
	mustSet(t, l, "c", "1")
	if got, want := r.next(t), (call{"set", []string{"a", "b", "c"}}); !equalCalls([]call{got}, []call{want}) {
		t.Fatalf("batch = %v, want %v", got, want)
	}
	flush(t, l)
	wantValue(t, r.Layer, "a", "2")
}

func TestClearDropsQueueAndClearsInner(t *testing.T) {
	r := newRecorder(newMemory(t))
	mustSet(t, r.Layer, "old", "v")
	l := newLayer(t, r, writebehind.Options{Tick: noTick()})
	mustSet(t, l, "queued", "v")
	if err := l.Clear(context.Background()); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	wantAbsent(t, l, "queued")
	wantAbsent(t, l, "old")
	flush(t, l)
	if got := r.history(); len(got) != 0 {
		t.Errorf("inner received %v after Clear, want nothing", got)
	}
	if got := l.Stats(); got.Pending != 0 || got.Dropped != 0 {
		t.Errorf("Stats() after Clear = %+v, want Pending 0, Dropped 0", got)
	}
}

// A batch that was being written when Clear was called must not land in
// the inner layer after Clear has cleared it.
func TestClearWaitsForBatchBeingWritten(t *testing.T) {
	g := newGated(newMemory(t))
	l := newLayer(t, g, writebehind.Options{BatchSize: 1, Tick: noTick()})
	mustSet(t, l, "a", "1")
	g.waitEntered(t)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Clear(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Clear with a cancelled context during a write = %v, want context.Canceled", err)
	}

	cleared := make(chan error, 1)
	go func() { cleared <- l.Clear(context.Background()) }()
	close(g.open) // the batch is written, then Clear runs
	if err := <-cleared; err != nil {
		t.Fatalf("Clear: %v", err)
	}
	wantAbsent(t, g.Layer, "a")
	wantAbsent(t, l, "a")
}

func TestOperationsAfterClose(t *testing.T) {
	ctx := context.Background()
	r := newRecorder(newMemory(t))
	l, err := writebehind.New(r, writebehind.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if got := r.history(); len(got) == 0 || got[len(got)-1].op != "close" {
		t.Error("Close did not close the inner layer")
	}
	checks := map[string]error{
		"Set":        l.Set(ctx, "k", entry("v")),
		"SetMany":    l.SetMany(ctx, []cache.Item{{Key: "k", Entry: entry("v")}}),
		"Delete":     l.Delete(ctx, "k"),
		"DeleteMany": l.DeleteMany(ctx, []string{"k"}),
		"Scan":       l.Scan(ctx, "", func(string) bool { return true }),
		"Clear":      l.Clear(ctx),
		"Ping":       l.Ping(ctx),
		"Flush":      l.Flush(ctx),
	}
	_, _, checks["Get"] = l.Get(ctx, "k")
	_, _, checks["GetMany"] = l.GetMany(ctx, []string{"k"})
	for name, err := range checks {
		if !errors.Is(err, writebehind.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func TestPingPassesThrough(t *testing.T) {
	m := newMemory(t)
	l := newLayer(t, m, writebehind.Options{})
	if err := l.Ping(context.Background()); err != nil {
		t.Errorf("Ping = %v, want nil", err)
	}
}

// TestConcurrentUse runs writers, readers and flushes at once (for the race
// detector), then checks that inner ends up with every writer's last write.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t)
	l := newLayer(t, m, writebehind.Options{BatchSize: 7, MaxPending: 20})
	const writers, rounds, keys = 8, 200, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				k := fmt.Sprintf("w%d:%d", w, i%keys)
				// Only this goroutine writes k, so it must read its own write.
				del := i%4 == 3
				var err error
				if del {
					err = l.Delete(ctx, k)
				} else {
					err = l.Set(ctx, k, entry(fmt.Sprint(i)))
				}
				if err != nil {
					t.Errorf("write %s: %v", k, err)
					return
				}
				e, found, err := l.Get(ctx, k)
				if err != nil {
					t.Errorf("Get(%s): %v", k, err)
					return
				}
				if found == del || (!del && valueOf(e) != fmt.Sprint(i)) {
					t.Errorf("Get(%s) after writing round %d (delete %v) = %q, %v", k, i, del, valueOf(e), found)
					return
				}
				if i%50 == 0 {
					if err := l.Flush(ctx); err != nil {
						t.Errorf("Flush: %v", err)
						return
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range rounds {
			if err := l.Scan(ctx, "w", func(string) bool { return true }); err != nil {
				t.Errorf("Scan: %v", err)
				return
			}
		}
	})
	wg.Wait()
	flush(t, l)
	for w := range writers {
		for j := range keys {
			k := fmt.Sprintf("w%d:%d", w, j)
			last := rounds - keys + j // the last round that wrote k
			if last%4 == 3 {
				wantAbsent(t, m, k)
			} else {
				wantValue(t, m, k, fmt.Sprint(last))
			}
		}
	}
	if got := l.Stats(); got.Pending != 0 || got.Dropped != 0 {
		t.Errorf("Stats() = %+v, want Pending 0, Dropped 0", got)
	}
}

func TestNewRejectsInvalidOptions(t *testing.T) {
	tick := noTick()
	for _, tc := range []struct {
		name  string
		opts  writebehind.Options
		field string
	}{
		{"negative BatchSize", writebehind.Options{BatchSize: -1}, "BatchSize"},
		{"negative FlushInterval", writebehind.Options{FlushInterval: -time.Second}, "FlushInterval"},
		{"negative MaxPending", writebehind.Options{MaxPending: -1}, "MaxPending"},
		{"negative MaxRetries", writebehind.Options{MaxRetries: -1}, "MaxRetries"},
		{"negative RetryBackoff", writebehind.Options{RetryBackoff: -1}, "RetryBackoff"},
		{"negative CloseTimeout", writebehind.Options{CloseTimeout: -1}, "CloseTimeout"},
		{"BatchSize above MaxPending", writebehind.Options{BatchSize: 11, MaxPending: 10}, "BatchSize"},
		{"BatchSize above default MaxPending", writebehind.Options{BatchSize: 10_001}, "MaxPending"},
		{"RetryBackoff above MaxRetryBackoff", writebehind.Options{RetryBackoff: time.Minute}, "RetryBackoff"},
		{"Tick and FlushInterval", writebehind.Options{Tick: tick, FlushInterval: time.Second}, "Tick"},
		{"unknown OnFull", writebehind.Options{OnFull: 7}, "OnFull"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := writebehind.New(newMemory(t), tc.opts)
			if err == nil {
				_ = l.Close()
				t.Fatalf("New(%+v) = nil error, want one naming %s", tc.opts, tc.field)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("New(%+v) = %q, want it to name %s", tc.opts, err, tc.field)
			}
		})
	}
	if _, err := writebehind.New(nil, writebehind.Options{}); err == nil {
		t.Error("New(nil inner) = nil error, want one")
	}
}

func equalCalls(a, b []call) bool {
	return slices.EqualFunc(a, b, func(x, y call) bool {
		return x.op == y.op && slices.Equal(x.keys, y.keys)
	})
}
