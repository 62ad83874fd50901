package disk

import "strings"

// node is the index's view of one record file.
type node struct {
	id        fileID
	key       string
	size      int64 // file size in bytes
	expiresAt int64 // Unix nanoseconds, 0: never
	seq       uint64

	prev, next *node // LRU list; head.next is the most recently used
	heapIdx    int   // position in index.expiring, -1 when not in it
}

func (n *node) expired(now int64) bool { return n.expiresAt != 0 && n.expiresAt <= now }

// index maps file IDs to the records on disk, in least-recently-used order,
// with a min-heap of the records that expire. It is keyed by file ID rather
// than by key because the file, not the key, is what a write replaces.
//
// index is not safe for concurrent use; Layer.mu guards it.
type index struct {
	nodes    map[fileID]*node
	head     node       // sentinel of the circular LRU list
	expiring expiryHeap // nodes with expiresAt != 0
	bytes    int64      // sum of node sizes
	seq      uint64     // last seq handed out
}

func newIndex() *index {
	x := &index{nodes: make(map[fileID]*node)}
	x.head.prev, x.head.next = &x.head, &x.head
	return x
}

func (x *index) len() int { return len(x.nodes) }

func (x *index) get(id fileID) *node { return x.nodes[id] }

// put inserts a node for a record just written, as the most recently used,
// replacing (and returning) the node previously stored under id.
func (x *index) put(id fileID, key string, size, expiresAt int64) (n, old *node) {
	old = x.nodes[id]
	if old != nil {
		x.remove(old)
	}
	x.seq++
	n = &node{id: id, key: key, size: size, expiresAt: expiresAt, seq: x.seq, heapIdx: -1}
	x.nodes[id] = n
	x.bytes += size
	x.linkFront(n)
	if expiresAt != 0 {
		x.expiring.push(n)
	}
	return n, old
}

// remove drops n, which must be in the index.
func (x *index) remove(n *node) {
	delete(x.nodes, n.id)
	x.bytes -= n.size
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
	if n.heapIdx >= 0 {
		x.expiring.remove(n.heapIdx)
	}
}

// removeIfCurrent drops the node stored under id if it is still the one
// numbered seq, and reports whether it did.
func (x *index) removeIfCurrent(id fileID, seq uint64) bool {
	n := x.nodes[id]
	if n == nil || n.seq != seq {
		return false
	}
	x.remove(n)
	return true
}

// touch marks n as the most recently used.
func (x *index) touch(n *node) {
	if x.head.next == n {
		return
	}
	n.prev.next, n.next.prev = n.next, n.prev
	x.linkFront(n)
}

func (x *index) linkFront(n *node) {
	n.prev, n.next = &x.head, x.head.next
	x.head.next.prev = n
	x.head.next = n
}

// evict removes nodes until the index holds at most maxEntries nodes and
// maxBytes bytes, and returns them so their files can be deleted. Expired
// nodes go first (earliest deadline first), then the least recently used.
func (x *index) evict(maxEntries int, maxBytes, now int64) []*node {
	var victims []*node
	for len(x.nodes) > maxEntries || x.bytes > maxBytes {
		var n *node
		if len(x.expiring) > 0 && x.expiring[0].expired(now) {
			n = x.expiring[0]
		} else {
			n = x.head.prev
		}
		x.remove(n)
		victims = append(victims, n)
	}
	return victims
}

// keys returns the keys that start with prefix and have not expired.
func (x *index) keys(prefix string, now int64) []string {
	var out []string
	for n := x.head.next; n != &x.head; n = n.next {
		if strings.HasPrefix(n.key, prefix) && !n.expired(now) {
			out = append(out, n.key)
		}
	}
	return out
}

// reset empties the index and returns the nodes it held.
func (x *index) reset() []*node {
	all := make([]*node, 0, len(x.nodes))
	for n := x.head.next; n != &x.head; n = n.next {
		all = append(all, n)
	}
	x.nodes = make(map[fileID]*node)
	x.head.prev, x.head.next = &x.head, &x.head
	x.expiring = nil
	x.bytes = 0
	return all
}

// expiryHeap is a binary min-heap of nodes by expiresAt. Each node keeps its
// position in heapIdx so it can be removed in O(log n).
type expiryHeap []*node

func (h *expiryHeap) push(n *node) {
	n.heapIdx = len(*h)
	*h = append(*h, n)
	h.up(n.heapIdx)
}

// remove takes out the node at position i.
func (h *expiryHeap) remove(i int) {
	last := len(*h) - 1
	removed := (*h)[i]
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	removed.heapIdx = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

func (h expiryHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}

func (h expiryHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if h[parent].expiresAt <= h[i].expiresAt {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h expiryHeap) down(i int) {
	for {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h[l].expiresAt < h[least].expiresAt {
			least = l
		}
		if r < len(h) && h[r].expiresAt < h[least].expiresAt {
			least = r
		}
		if least == i {
			return
		}
		h.swap(i, least)
		i = least
	}
}
