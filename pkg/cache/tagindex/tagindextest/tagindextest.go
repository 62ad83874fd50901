// Package tagindextest holds the conformance tests every cache.TagIndex
// must pass, so that the in-process index (pkg/cache/tagindex) and the
// Redis one (pkg/cache/redistags) are held to one contract. Call Run from
// an implementation's tests.
//
// The tests never sleep: expiry is driven by a Clock that moves only when
// told to. It starts at the real current time, so that deadlines the tests
// treat as future are future for a real server too.
package tagindextest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// Clock is a manual clock: it reads as the real time when it was created
// and moves only with Add. It is safe for concurrent use.
type Clock struct{ now atomic.Int64 }

// NewClock returns a Clock set to the current time, truncated to the
// millisecond.
func NewClock() *Clock {
	c := &Clock{}
	c.now.Store(time.Now().Truncate(time.Millisecond).UnixNano())
	return c
}

// NowNano returns the clock's time as Unix nanoseconds.
func (c *Clock) NowNano() int64 { return c.now.Load() }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.now.Add(int64(d)) }

// At returns the clock's time plus d, as Unix nanoseconds: a deadline for
// Track.
func (c *Clock) At(d time.Duration) int64 { return c.now.Load() + int64(d) }

// NewIndex returns an empty index that reads time from clock. It is called
// once per subtest; the index must not share state with any other one it
// returned, and its resources must be released when t ends.
type NewIndex func(t *testing.T, clock *Clock) cache.TagIndex

// Run runs the conformance tests as subtests of t.
func Run(t *testing.T, newIndex NewIndex) {
	tests := []struct {
		name string
		fn   func(t *testing.T, ix cache.TagIndex, clock *Clock)
	}{
		{"MatchAnyAndAll", testMatch},
		{"RetrackReplacesTags", testRetrack},
		{"EmptyTagsUntracks", testEmptyTags},
		{"Untrack", testUntrack},
		{"Expiry", testExpiry},
		{"PastDeadlineUntracks", testPastDeadline},
		{"DuplicateTags", testDuplicates},
		{"UnusualNames", testUnusualNames},
		{"Batching", testBatching},
		{"InvalidBatch", testInvalidBatch},
		{"FnErrorAborts", testFnError},
		{"FnUntracksDuringKeys", testFnUntracks},
		{"FnTracksDuringKeys", testFnTracks},
		{"CancelledContext", testCancelled},
		{"Clear", testClear},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock()
			tc.fn(t, newIndex(t, clock), clock)
		})
	}
}

// track calls ix.Track and fails t on error.
func track(t *testing.T, ix cache.TagIndex, key string, expiresAt int64, tags ...string) {
	t.Helper()
	if err := ix.Track(context.Background(), key, tags, expiresAt); err != nil {
		t.Fatalf("Track(%q, %q, %d): %v", key, tags, expiresAt, err)
	}
}

// collect returns every key Keys reports, sorted, and fails t if one is
// reported twice or a batch is empty or larger than batch.
func collect(t *testing.T, ix cache.TagIndex, all bool, batch int, tags ...string) []string {
	t.Helper()
	var got []string
	err := ix.Keys(context.Background(), tags, all, batch, func(keys []string) error {
		if len(keys) == 0 || len(keys) > batch {
			return fmt.Errorf("batch of %d keys, want 1..%d", len(keys), batch)
		}
		got = append(got, keys...)
		return nil
	})
	if err != nil {
		t.Fatalf("Keys(%q, all=%v, %d): %v", tags, all, batch, err)
	}
	slices.Sort(got)
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("Keys(%q, all=%v): key %q reported twice", tags, all, got[i])
		}
	}
	return got
}

// expect checks the keys that match tags, with a few batch sizes.
func expect(t *testing.T, ix cache.TagIndex, all bool, tags []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	for _, batch := range []int{1, 2, 100} {
		got := collect(t, ix, all, batch, tags...)
		if !slices.Equal(got, want) {
			t.Fatalf("Keys(%q, all=%v, batch %d) = %q, want %q", tags, all, batch, got, want)
		}
	}
}

func expectAny(t *testing.T, ix cache.TagIndex, tags []string, want ...string) {
	t.Helper()
	expect(t, ix, false, tags, want...)
}

func expectAll(t *testing.T, ix cache.TagIndex, tags []string, want ...string) {
	t.Helper()
	expect(t, ix, true, tags, want...)
}

func tags(ts ...string) []string { return ts }

func testMatch(t *testing.T, ix cache.TagIndex, _ *Clock) {
	track(t, ix, "k1", 0, "a", "b")
	track(t, ix, "k2", 0, "b")
	track(t, ix, "k3", 0, "c")
	track(t, ix, "k4", 0, "a", "b", "c")

	expectAny(t, ix, tags("a"), "k1", "k4")
	expectAny(t, ix, tags("b"), "k1", "k2", "k4")
	expectAny(t, ix, tags("a", "c"), "k1", "k3", "k4")
	expectAny(t, ix, tags("a", "b", "c"), "k1", "k2", "k3", "k4")
	expectAny(t, ix, tags("missing"))
	expectAny(t, ix, tags("missing", "c"), "k3", "k4")
	expectAny(t, ix, nil)

	expectAll(t, ix, tags("a"), "k1", "k4")
	expectAll(t, ix, tags("a", "b"), "k1", "k4")
	expectAll(t, ix, tags("b", "c"), "k4")
	expectAll(t, ix, tags("a", "b", "c"), "k4")
	expectAll(t, ix, tags("a", "missing"))
	expectAll(t, ix, nil)
}

func testRetrack(t *testing.T, ix cache.TagIndex, _ *Clock) {
	track(t, ix, "k", 0, "a", "b")
	track(t, ix, "other", 0, "a")
	track(t, ix, "k", 0, "b", "c")

	expectAny(t, ix, tags("a"), "other")
	expectAny(t, ix, tags("b"), "k")
	expectAny(t, ix, tags("c"), "k")
	expectAll(t, ix, tags("a", "b"))

	track(t, ix, "k", 0, "a")
	expectAny(t, ix, tags("a"), "k", "other")
	expectAny(t, ix, tags("b", "c"))
}

func testEmptyTags(t *testing.T, ix cache.TagIndex, _ *Clock) {
	track(t, ix, "k", 0, "a", "b")
	track(t, ix, "other", 0, "a")
	track(t, ix, "k", 0)
	expectAny(t, ix, tags("a", "b"), "other")

	// Tracking again after the removal starts from nothing.
	track(t, ix, "k", 0, "c")
	expectAny(t, ix, tags("a", "b"), "other")
	expectAny(t, ix, tags("c"), "k")
	if err := ix.Track(context.Background(), "k", []string{}, 0); err != nil {
		t.Fatalf("Track with empty non-nil tags: %v", err)
	}
	expectAny(t, ix, tags("c"))
}

func testUntrack(t *testing.T, ix cache.TagIndex, _ *Clock) {
	ctx := context.Background()
	track(t, ix, "k1", 0, "a", "b")
	track(t, ix, "k2", 0, "a")
	track(t, ix, "k3", 0, "b")
	if err := ix.Untrack(ctx, []string{"k1", "k3", "never-tracked"}); err != nil {
		t.Fatalf("Untrack: %v", err)
	}
	expectAny(t, ix, tags("a", "b"), "k2")
	if err := ix.Untrack(ctx, nil); err != nil {
		t.Fatalf("Untrack(nil): %v", err)
	}
	if err := ix.Untrack(ctx, []string{"k2", "k2"}); err != nil {
		t.Fatalf("Untrack twice the same key: %v", err)
	}
	expectAny(t, ix, tags("a", "b"))

	// An untracked key can be tracked again.
	track(t, ix, "k1", 0, "b")
	expectAny(t, ix, tags("a", "b"), "k1")
}

func testExpiry(t *testing.T, ix cache.TagIndex, clock *Clock) {
	track(t, ix, "soon", clock.At(time.Minute), "a")
	track(t, ix, "later", clock.At(time.Hour), "a", "b")
	track(t, ix, "never", 0, "a", "b")
	expectAny(t, ix, tags("a"), "soon", "later", "never")

	clock.Add(time.Minute) // a deadline that is now has passed
	expectAny(t, ix, tags("a"), "later", "never")
	expectAll(t, ix, tags("a", "b"), "later", "never")

	// Retracking an expired key revives it; retracking a live one moves its
	// deadline.
	track(t, ix, "soon", clock.At(2*time.Hour), "a")
	track(t, ix, "later", clock.At(3*time.Hour), "a", "b")
	clock.Add(90 * time.Minute)
	expectAny(t, ix, tags("a"), "soon", "later", "never")

	clock.Add(time.Hour)
	expectAny(t, ix, tags("a"), "later", "never")
	clock.Add(24 * time.Hour)
	expectAny(t, ix, tags("a", "b"), "never")
	expectAll(t, ix, tags("a", "b"), "never")

	// Expired keys can be tracked again, and untracked without error.
	if err := ix.Untrack(context.Background(), []string{"soon"}); err != nil {
		t.Fatalf("Untrack of an expired key: %v", err)
	}
	track(t, ix, "later", clock.At(time.Minute), "b")
	expectAny(t, ix, tags("a"), "never")
	expectAny(t, ix, tags("b"), "later", "never")
}

func testPastDeadline(t *testing.T, ix cache.TagIndex, clock *Clock) {
	track(t, ix, "k", 0, "a")
	track(t, ix, "k", clock.At(-time.Second), "a", "b")
	expectAny(t, ix, tags("a", "b"))
	track(t, ix, "j", clock.At(0), "a")
	expectAny(t, ix, tags("a"))
}

func testDuplicates(t *testing.T, ix cache.TagIndex, _ *Clock) {
	track(t, ix, "k", 0, "a", "a", "b", "a")
	expectAny(t, ix, tags("a", "a", "b"), "k")
	expectAll(t, ix, tags("a", "b", "a"), "k")
	track(t, ix, "k", 0, "b", "b")
	expectAny(t, ix, tags("a"))
	expectAny(t, ix, tags("b"), "k")
}

// testUnusualNames uses keys and tags with characters that are special to
// Redis glob patterns, lexicographic ranges and Cluster hash tags.
func testUnusualNames(t *testing.T, ix cache.TagIndex, _ *Clock) {
	keys := []string{"(a", "[b", "-", "+", "{c}", "d}{", "*", "x?y", "\\", "ключ", "with space", "z\xff"}
	tagList := []string{"{t}", "}t{", "t*", "t[1]", "t\\", "тег"}
	for i, k := range keys {
		track(t, ix, k, 0, tagList[i%len(tagList)], "common")
	}
	expectAny(t, ix, tags("common"), keys...)
	expectAny(t, ix, tags("{t}"), "(a", "*")
	expectAll(t, ix, tags("t[1]", "common"), "+", "ключ")
	expectAny(t, ix, tags("t"))
	expectAny(t, ix, tags("t?"))
}

func testBatching(t *testing.T, ix cache.TagIndex, _ *Clock) {
	const n = 25
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("key-%02d", i)
		track(t, ix, want[i], 0, "a", fmt.Sprintf("b%d", i%2))
	}
	for _, batch := range []int{1, 3, 4, 24, 25, 26, 1000} {
		var calls int
		err := ix.Keys(context.Background(), []string{"a"}, false, batch, func(keys []string) error {
			calls++
			return nil
		})
		if err != nil {
			t.Fatalf("Keys(batch %d): %v", batch, err)
		}
		if minCalls := (n + batch - 1) / batch; calls < minCalls {
			t.Errorf("Keys(batch %d) called fn %d times, want at least %d", batch, calls, minCalls)
		}
		if got := collect(t, ix, false, batch, "a"); !slices.Equal(got, want) {
			t.Fatalf("Keys(batch %d) = %q, want %q", batch, got, want)
		}
		if got := collect(t, ix, false, batch, "b0", "b1"); !slices.Equal(got, want) {
			t.Fatalf("Keys(b0|b1, batch %d) = %q, want %q", batch, got, want)
		}
		if got := collect(t, ix, true, batch, "a", "b1"); len(got) != n/2 {
			t.Fatalf("Keys(a&b1, batch %d) = %d keys, want %d", batch, len(got), n/2)
		}
	}
}

func testInvalidBatch(t *testing.T, ix cache.TagIndex, _ *Clock) {
	track(t, ix, "k", 0, "a")
	for _, batch := range []int{0, -1} {
		err := ix.Keys(context.Background(), []string{"a"}, false, batch, func([]string) error {
			t.Errorf("Keys(batch %d) called fn", batch)
			return nil
		})
		if err == nil {
			t.Errorf("Keys(batch %d) = nil error, want one", batch)
		}
	}
}

func testFnError(t *testing.T, ix cache.TagIndex, _ *Clock) {
	for i := range 10 {
		track(t, ix, fmt.Sprint("k", i), 0, "a", "b")
	}
	errStop := errors.New("stop")
	for _, all := range []bool{false, true} {
		var calls int
		err := ix.Keys(context.Background(), []string{"a", "b"}, all, 2, func([]string) error {
			calls++
			if calls == 2 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Errorf("Keys(all=%v) = %v, want fn's error", all, err)
		}
		if calls != 2 {
			t.Errorf("Keys(all=%v) called fn %d times after it failed on call 2, want 2", all, calls)
		}
	}
}

// testFnUntracks untracks every reported batch from within fn, as
// InvalidateTag does: every key must still be reported exactly once.
func testFnUntracks(t *testing.T, ix cache.TagIndex, _ *Clock) {
	cases := []struct {
		all  bool
		tags []string
	}{
		{false, []string{"a"}},
		{false, []string{"a", "b"}},
		{true, []string{"a", "b"}},
	}
	for _, tc := range cases {
		var want []string
		for i := range 150 {
			k := fmt.Sprintf("k%03d", i)
			switch {
			case i < 50:
				track(t, ix, k, 0, "a")
			case i < 100:
				track(t, ix, k, 0, "a", "b")
			default:
				track(t, ix, k, 0, "b")
			}
			hasA, hasB := i < 100, i >= 50
			wantA, wantB := slices.Contains(tc.tags, "a"), slices.Contains(tc.tags, "b")
			if tc.all && (!wantA || hasA) && (!wantB || hasB) || !tc.all && (wantA && hasA || wantB && hasB) {
				want = append(want, k)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a deadlock fails, not hangs
		var got []string
		err := ix.Keys(ctx, tc.tags, tc.all, 7, func(keys []string) error {
			got = append(got, keys...)
			return ix.Untrack(ctx, keys)
		})
		cancel()
		if err != nil {
			t.Fatalf("Keys(%q, all=%v): %v", tc.tags, tc.all, err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("Keys(%q, all=%v) with Untrack in fn reported %d keys %q, want %d %q",
				tc.tags, tc.all, len(got), got, len(want), want)
		}
		expectAny(t, ix, tags("a", "b"), notIn(want, 150)...)
		if err := ix.Clear(context.Background()); err != nil {
			t.Fatalf("Clear: %v", err)
		}
	}
}

// notIn returns the keys k000…k<n-1> not in have.
func notIn(have []string, n int) []string {
	var out []string
	for i := range n {
		k := fmt.Sprintf("k%03d", i)
		if !slices.Contains(have, k) {
			out = append(out, k)
		}
	}
	return out
}

func testFnTracks(t *testing.T, ix cache.TagIndex, _ *Clock) {
	for i := range 20 {
		track(t, ix, fmt.Sprint("k", i), 0, "a")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := ix.Keys(ctx, []string{"a"}, false, 3, func(keys []string) error {
		for _, k := range keys {
			// Retag the reported keys away from "a" and add new keys elsewhere.
			if err := ix.Track(ctx, k, []string{"b"}, 0); err != nil {
				return err
			}
			if err := ix.Track(ctx, "new-"+k, []string{"c"}, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Keys with Track in fn: %v", err)
	}
	expectAny(t, ix, tags("a"))
	if got := collect(t, ix, false, 100, "b"); len(got) != 20 {
		t.Fatalf("keys tagged b = %d, want 20", len(got))
	}
	if got := collect(t, ix, false, 100, "c"); len(got) != 20 {
		t.Fatalf("keys tagged c = %d, want 20", len(got))
	}
}

func testCancelled(t *testing.T, ix cache.TagIndex, _ *Clock) {
	track(t, ix, "k", 0, "a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := ix.Keys(ctx, []string{"a"}, false, 10, func([]string) error {
		t.Error("Keys with a cancelled context called fn")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Keys with a cancelled context = %v, want context.Canceled", err)
	}
}

func testClear(t *testing.T, ix cache.TagIndex, clock *Clock) {
	ctx := context.Background()
	for i := range 30 {
		track(t, ix, fmt.Sprint("k", i), clock.At(time.Hour), "a", fmt.Sprint("t", i%3))
	}
	track(t, ix, "forever", 0, "a")
	if err := ix.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	expectAny(t, ix, tags("a", "t0", "t1", "t2"))
	if err := ix.Clear(ctx); err != nil {
		t.Fatalf("Clear of an empty index: %v", err)
	}
	track(t, ix, "k1", 0, "a")
	expectAny(t, ix, tags("a"), "k1")
}

// testConcurrent runs Track, Untrack and Keys (with fn untracking) at once
// on overlapping keys, for the race detector and for deadlocks, then checks
// that the index still works.
func testConcurrent(t *testing.T, ix cache.TagIndex, clock *Clock) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const workers, rounds, keys = 4, 100, 20
	errs := make(chan error, 3*workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				k := fmt.Sprint("k", (i*7+w)%keys)
				ts := []string{fmt.Sprint("t", i%3), fmt.Sprint("t", (i+w)%4)}
				if err := ix.Track(ctx, k, ts, clock.At(time.Duration(i%5)*time.Hour)); err != nil {
					errs <- fmt.Errorf("track: %w", err)
					return
				}
			}
		})
		wg.Go(func() {
			for i := range rounds {
				if err := ix.Untrack(ctx, []string{fmt.Sprint("k", (i+w)%keys)}); err != nil {
					errs <- fmt.Errorf("untrack: %w", err)
					return
				}
			}
		})
		wg.Go(func() {
			for i := range rounds / 10 {
				err := ix.Keys(ctx, []string{"t0", fmt.Sprint("t", i%4)}, w%2 == 0, 3, func(keys []string) error {
					return ix.Untrack(ctx, keys[:len(keys)/2])
				})
				if err != nil {
					errs <- fmt.Errorf("keys: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := ix.Clear(ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	track(t, ix, "k1", 0, "t0")
	track(t, ix, "k2", 0, "t1")
	expectAny(t, ix, tags("t0", "t1", "t2", "t3"), "k1", "k2")
}
