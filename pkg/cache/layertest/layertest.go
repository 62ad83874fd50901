// Package layertest is the conformance suite every cache.Layer must pass.
// A layer package calls Run from its own tests with a factory that returns a
// fresh, empty layer for each sub-test:
//
//	func TestConformance(t *testing.T) {
//		layertest.Run(t, func(t *testing.T) cache.Layer { return newTestLayer(t) })
//	}
//
// The suite uses real time only through deadlines far in the future or in
// the past, so it never sleeps.
package layertest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// Factory returns a new, empty layer. It should register its own cleanup.
type Factory func(t *testing.T) cache.Layer

// Run runs every conformance check as a sub-test.
func Run(t *testing.T, newLayer Factory) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, l cache.Layer)
	}{
		{"GetOfMissingKeyIsNotFound", testMissing},
		{"SetThenGetRoundTripsEntry", testRoundTrip},
		{"SetReplacesPreviousEntry", testReplace},
		{"NegativeEntryRoundTrips", testNegative},
		{"DeleteRemovesKeyAndIgnoresMissing", testDelete},
		{"ExpiredEntryIsNotReturned", testExpired},
		{"GetManyReportsFoundPerKey", testGetMany},
		{"SetManyAndDeleteMany", testSetManyDeleteMany},
		{"ScanVisitsKeysUnderPrefix", testScan},
		{"ScanStopsWhenFnReturnsFalse", testScanStop},
		{"ClearRemovesEverything", testClear},
		{"PingSucceeds", testPing},
		{"LargeValueRoundTrips", testLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newLayer(t))
		})
	}
}

func hour() int64 { return time.Now().Add(time.Hour).UnixNano() }

// entry builds a test entry holding v in the form the layer stores.
func entry(l cache.Layer, v string, tags ...string) cache.Entry {
	fresh := hour()
	e := cache.Entry{FreshUntil: fresh, StaleUntil: fresh + int64(time.Minute), Tags: tags}
	info := l.Info()
	if info.Values {
		e.Value = v
	}
	if !info.Values || info.NeedsPayload {
		e.Payload = []byte(v)
	}
	return e
}

func value(l cache.Layer, e cache.Entry) string {
	if l.Info().Values {
		s, _ := e.Value.(string)
		return s
	}
	return string(e.Payload)
}

func mustSet(t *testing.T, l cache.Layer, key string, e cache.Entry) {
	t.Helper()
	if err := l.Set(context.Background(), key, e); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, l cache.Layer, key string) (cache.Entry, bool) {
	t.Helper()
	e, ok, err := l.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return e, ok
}

func testMissing(t *testing.T, l cache.Layer) {
	if _, ok := mustGet(t, l, "absent"); ok {
		t.Fatal("Get(absent) found an entry")
	}
}

func testRoundTrip(t *testing.T, l cache.Layer) {
	in := entry(l, "hello", "t1", "t2")
	mustSet(t, l, "k", in)
	out, ok := mustGet(t, l, "k")
	if !ok {
		t.Fatal("Get(k) after Set: not found")
	}
	if got := value(l, out); got != "hello" {
		t.Errorf("value = %q, want %q", got, "hello")
	}
	if out.FreshUntil != in.FreshUntil || out.StaleUntil != in.StaleUntil || out.ErrorUntil != in.ErrorUntil {
		t.Errorf("deadlines = %d/%d/%d, want %d/%d/%d", out.FreshUntil, out.StaleUntil, out.ErrorUntil,
			in.FreshUntil, in.StaleUntil, in.ErrorUntil)
	}
	if !slices.Equal(out.Tags, in.Tags) {
		t.Errorf("tags = %v, want %v", out.Tags, in.Tags)
	}
	if out.Negative {
		t.Error("entry came back negative")
	}
}

func testReplace(t *testing.T, l cache.Layer) {
	mustSet(t, l, "k", entry(l, "one", "a"))
	mustSet(t, l, "k", entry(l, "two"))
	out, ok := mustGet(t, l, "k")
	if !ok || value(l, out) != "two" {
		t.Fatalf("Get(k) = %q, %v; want two, true", value(l, out), ok)
	}
	if len(out.Tags) != 0 {
		t.Errorf("tags after re-set = %v, want none", out.Tags)
	}
}

func testNegative(t *testing.T, l cache.Layer) {
	mustSet(t, l, "neg", cache.Entry{Negative: true, FreshUntil: hour()})
	out, ok := mustGet(t, l, "neg")
	if !ok || !out.Negative {
		t.Fatalf("Get(neg) = negative %v, found %v; want true, true", out.Negative, ok)
	}
}

func testDelete(t *testing.T, l cache.Layer) {
	ctx := context.Background()
	mustSet(t, l, "k", entry(l, "v"))
	if err := l.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete(k): %v", err)
	}
	if _, ok := mustGet(t, l, "k"); ok {
		t.Error("Get(k) after Delete found an entry")
	}
	if err := l.Delete(ctx, "never-set"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
}

func testExpired(t *testing.T, l cache.Layer) {
	past := time.Now().Add(-time.Second).UnixNano()
	e := entry(l, "old")
	e.FreshUntil, e.StaleUntil = past-int64(time.Second), past
	if err := l.Set(context.Background(), "old", e); err != nil {
		t.Fatalf("Set(expired entry): %v", err)
	}
	if _, ok := mustGet(t, l, "old"); ok {
		t.Error("Get returned an entry whose deadlines have all passed")
	}
}

func testGetMany(t *testing.T, l cache.Layer) {
	mustSet(t, l, "a", entry(l, "A"))
	mustSet(t, l, "c", entry(l, "C"))
	entries, found, err := l.GetMany(context.Background(), []string{"a", "b", "c"})
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if len(entries) != 3 || len(found) != 3 {
		t.Fatalf("GetMany returned %d entries, %d flags; want 3, 3", len(entries), len(found))
	}
	if !found[0] || found[1] || !found[2] {
		t.Fatalf("found = %v, want [true false true]", found)
	}
	if value(l, entries[0]) != "A" || value(l, entries[2]) != "C" {
		t.Errorf("values = %q, %q; want A, C", value(l, entries[0]), value(l, entries[2]))
	}
}

func testSetManyDeleteMany(t *testing.T, l cache.Layer) {
	ctx := context.Background()
	var items []cache.Item
	var keys []string
	for i := range 50 {
		k := fmt.Sprintf("bulk:%d", i)
		keys = append(keys, k)
		items = append(items, cache.Item{Key: k, Entry: entry(l, k)})
	}
	if err := l.SetMany(ctx, items); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	for _, k := range keys {
		if e, ok := mustGet(t, l, k); !ok || value(l, e) != k {
			t.Fatalf("Get(%q) after SetMany = %q, %v", k, value(l, e), ok)
		}
	}
	if err := l.DeleteMany(ctx, keys[:40]); err != nil {
		t.Fatalf("DeleteMany: %v", err)
	}
	for i, k := range keys {
		_, ok := mustGet(t, l, k)
		if want := i >= 40; ok != want {
			t.Errorf("Get(%q) after DeleteMany found = %v, want %v", k, ok, want)
		}
	}
}

func scanAll(t *testing.T, l cache.Layer, prefix string) []string {
	t.Helper()
	var keys []string
	err := l.Scan(context.Background(), prefix, func(k string) bool {
		keys = append(keys, k)
		return true
	})
	if err != nil {
		t.Fatalf("Scan(%q): %v", prefix, err)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func testScan(t *testing.T, l cache.Layer) {
	for _, k := range []string{"user:1", "user:2", "users", "order:1", "user*[x]"} {
		mustSet(t, l, k, entry(l, k))
	}
	if got, want := scanAll(t, l, "user:"), []string{"user:1", "user:2"}; !slices.Equal(got, want) {
		t.Errorf("Scan(user:) = %v, want %v", got, want)
	}
	// Glob characters in a prefix are literal.
	if got, want := scanAll(t, l, "user*"), []string{"user*[x]"}; !slices.Equal(got, want) {
		t.Errorf("Scan(user*) = %v, want %v", got, want)
	}
	if got := scanAll(t, l, ""); len(got) != 5 {
		t.Errorf("Scan(\"\") = %v, want 5 keys", got)
	}
}

func testScanStop(t *testing.T, l cache.Layer) {
	for i := range 20 {
		mustSet(t, l, fmt.Sprintf("k%d", i), entry(l, "v"))
	}
	calls := 0
	err := l.Scan(context.Background(), "", func(string) bool {
		calls++
		return false
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times after returning false, want 1", calls)
	}
}

func testClear(t *testing.T, l cache.Layer) {
	for i := range 10 {
		mustSet(t, l, fmt.Sprintf("k%d", i), entry(l, "v"))
	}
	if err := l.Clear(context.Background()); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	if keys := scanAll(t, l, ""); len(keys) != 0 {
		t.Errorf("keys after Clear = %v, want none", keys)
	}
	if _, ok := mustGet(t, l, "k1"); ok {
		t.Error("Get(k1) after Clear found an entry")
	}
}

func testPing(t *testing.T, l cache.Layer) {
	if err := l.Ping(context.Background()); err != nil {
		t.Errorf("Ping = %v, want nil", err)
	}
}

func testLarge(t *testing.T, l cache.Layer) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	mustSet(t, l, "big", entry(l, string(big)))
	out, ok := mustGet(t, l, "big")
	if !ok {
		t.Fatal("Get(big): not found")
	}
	if got := value(l, out); got != string(big) {
		t.Errorf("1 MiB value came back as %d bytes", len(got))
	}
}
