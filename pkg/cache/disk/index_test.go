package disk

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestExpiryHeapOrder pushes and removes nodes at random and checks that the
// heap always yields the earliest deadline and keeps heapIdx right.
func TestExpiryHeapOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h expiryHeap
	var live []*node
	for i := range 2000 {
		if len(live) > 0 && r.IntN(3) == 0 {
			j := r.IntN(len(live))
			h.remove(live[j].heapIdx)
			if live[j].heapIdx != -1 {
				t.Fatalf("step %d: removed node keeps heapIdx %d", i, live[j].heapIdx)
			}
			live = slices.Delete(live, j, j+1)
		} else {
			n := &node{expiresAt: r.Int64N(1000) + 1}
			h.push(n)
			live = append(live, n)
		}
		if len(h) != len(live) {
			t.Fatalf("step %d: heap holds %d nodes, want %d", i, len(h), len(live))
		}
		for k, n := range h {
			if n.heapIdx != k {
				t.Fatalf("step %d: node at %d has heapIdx %d", i, k, n.heapIdx)
			}
		}
		if len(live) > 0 {
			least := slices.MinFunc(live, func(a, b *node) int { return int(a.expiresAt - b.expiresAt) })
			if h[0].expiresAt != least.expiresAt {
				t.Fatalf("step %d: heap top expires at %d, earliest is %d", i, h[0].expiresAt, least.expiresAt)
			}
		}
	}
}

func TestIndexEvictOrder(t *testing.T) {
	x := newIndex()
	x.put(fileID{1}, "a", 10, 0)
	x.put(fileID{2}, "b", 10, 500)
	x.put(fileID{3}, "c", 10, 0)
	x.touch(x.get(fileID{1})) // LRU order now b, c, a (oldest first)
	victims := x.evict(1, 1000, 600)
	var got []string
	for _, v := range victims {
		got = append(got, v.key)
	}
	if want := []string{"b", "c"}; !slices.Equal(got, want) {
		t.Errorf("evicted %v, want %v (expired b first, then least recently used c)", got, want)
	}
	if x.len() != 1 || x.bytes != 10 || len(x.expiring) != 0 {
		t.Errorf("after eviction: %d nodes, %d bytes, %d expiring; want 1, 10, 0", x.len(), x.bytes, len(x.expiring))
	}
}
