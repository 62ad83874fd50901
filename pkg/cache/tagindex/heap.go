package tagindex

// expiryHeap orders records by deadline, then by the order in which they
// were last tracked, so its root is the association to purge or drop first.
// Each record keeps its position (record.pos) so that a retrack or an
// Untrack can fix or remove it in O(log n). It is not safe for concurrent
// use; Index.mu guards it.
type expiryHeap []*record

func (h expiryHeap) less(i, j int) bool {
	a, b := h[i], h[j]
	if a.deadline != b.deadline {
		return a.deadline < b.deadline
	}
	return a.seq < b.seq
}

func (h expiryHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].pos = i
	h[j].pos = j
}

// push adds r.
func (h *expiryHeap) push(r *record) {
	r.pos = len(*h)
	*h = append(*h, r)
	h.up(r.pos)
}

// remove takes out the record at position i.
func (h *expiryHeap) remove(i int) {
	old := *h
	n := len(old) - 1
	if i != n {
		old.swap(i, n)
	}
	old[n].pos = -1
	old[n] = nil // let the record be collected
	*h = old[:n]
	if i != n && !h.down(i) {
		h.up(i)
	}
}

// fix restores the order after the record at position i changed.
func (h expiryHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h expiryHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

// down moves the record at i towards the leaves and reports whether it
// moved.
func (h expiryHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
