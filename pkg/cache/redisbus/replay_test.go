package redisbus

import (
	"encoding/binary"
	"testing"
)

func testID(n uint64) [idSize]byte {
	var id [idSize]byte
	binary.BigEndian.PutUint64(id[:], n)
	return id
}

func TestReplayFilterExpiry(t *testing.T) {
	f := newReplayFilter(10)
	if f.seenBefore(testID(1), 100, 0) {
		t.Fatal("new ID reported as seen")
	}
	if !f.seenBefore(testID(1), 100, 50) {
		t.Fatal("ID seen before its expiry not reported")
	}
	if !f.seenBefore(testID(1), 100, 100) {
		t.Fatal("ID at its expiry not reported")
	}
	// After the expiry the skew check rejects the message; the filter
	// forgets it.
	if f.seenBefore(testID(2), 300, 101) {
		t.Fatal("new ID reported as seen")
	}
	if got := f.len(); got != 1 {
		t.Fatalf("%d IDs remembered after the first expired, want 1", got)
	}
	if f.seenBefore(testID(1), 200, 101) {
		t.Fatal("expired ID reported as seen")
	}
	if !f.seenBefore(testID(1), 200, 150) {
		t.Fatal("re-added ID not reported")
	}
}

func TestReplayFilterBound(t *testing.T) {
	const maxIDs = 1000
	f := newReplayFilter(maxIDs)
	for i := range uint64(10 * maxIDs) {
		if f.seenBefore(testID(i), 1<<40, 0) {
			t.Fatalf("new ID %d reported as seen", i)
		}
		if f.len() > maxIDs {
			t.Fatalf("%d IDs remembered, bound is %d", f.len(), maxIDs)
		}
	}
	if len(f.queue)-f.head != maxIDs || cap(f.queue) > 4*maxIDs {
		t.Errorf("queue holds %d live entries (cap %d), want %d", len(f.queue)-f.head, cap(f.queue), maxIDs)
	}
	// The newest are remembered, the oldest forgotten.
	if !f.seenBefore(testID(10*maxIDs-1), 1<<40, 0) {
		t.Error("newest ID forgotten")
	}
	if f.seenBefore(testID(0), 1<<40, 0) {
		t.Error("oldest ID still remembered beyond the bound")
	}
}

// TestReplayFilterOutOfOrderExpiry mixes expiries, as senders with
// different clocks produce, and checks that expired IDs are all forgotten
// once the older live ones expire.
func TestReplayFilterOutOfOrderExpiry(t *testing.T) {
	f := newReplayFilter(100)
	f.seenBefore(testID(1), 1000, 0) // long-lived, at the front
	for i := range uint64(50) {
		f.seenBefore(testID(100+i), 10, 0)
	}
	f.seenBefore(testID(2), 2000, 500) // the 50 short ones are expired but behind ID 1
	if got := f.len(); got != 52 {
		t.Fatalf("%d IDs remembered, want 52 (expired ones wait behind a live one)", got)
	}
	if f.seenBefore(testID(100), 2000, 500) {
		t.Error("expired ID reported as seen")
	}
	f.seenBefore(testID(3), 3000, 1500) // ID 1 expired: the run behind it goes too
	if got := f.len(); got != 3 {
		t.Fatalf("%d IDs remembered, want 3 (IDs 2, 3 and 100)", got)
	}
}
