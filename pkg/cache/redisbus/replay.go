package redisbus

// replayFilter remembers the IDs of accepted messages until they expire (the
// moment the skew check would reject the message anyway), at most max of
// them; when full, it forgets the oldest first. It is not safe for
// concurrent use: only the bus's receive goroutine touches it.
type replayFilter struct {
	max   int
	seen  map[[idSize]byte]int64 // ID → expiry, Unix milliseconds
	queue []replayEntry          // IDs in the order they were added; live ones start at head
	head  int
}

type replayEntry struct {
	id     [idSize]byte
	expiry int64
}

func newReplayFilter(maxIDs int) *replayFilter {
	return &replayFilter{max: maxIDs, seen: make(map[[idSize]byte]int64)}
}

// seenBefore reports whether id was added and has not expired at now; if
// not, it adds id until expiry. Times are Unix milliseconds.
func (f *replayFilter) seenBefore(id [idSize]byte, expiry, now int64) bool {
	// Forget expired IDs from the front. Expiries are not strictly in
	// queue order (senders' clocks differ), so an expired ID behind a live
	// one waits for it; the bound on the size still holds.
	for f.head < len(f.queue) && f.queue[f.head].expiry < now {
		f.forgetOldest()
	}
	if exp, ok := f.seen[id]; ok && exp >= now {
		return true
	}
	f.seen[id] = expiry
	f.queue = append(f.queue, replayEntry{id: id, expiry: expiry})
	for len(f.seen) > f.max && f.head < len(f.queue) {
		f.forgetOldest()
	}
	return false
}

// forgetOldest drops the entry at the front of the queue, and compacts the
// queue once half of it is dead.
func (f *replayFilter) forgetOldest() {
	e := f.queue[f.head]
	f.queue[f.head] = replayEntry{}
	f.head++
	// The map may hold a newer expiry for the same ID (one re-added after
	// it expired); that one has its own, later queue entry.
	if exp, ok := f.seen[e.id]; ok && exp == e.expiry {
		delete(f.seen, e.id)
	}
	if f.head == len(f.queue) || (f.head >= 1024 && f.head > len(f.queue)/2) {
		n := copy(f.queue, f.queue[f.head:])
		clear(f.queue[n:])
		f.queue = f.queue[:n]
		f.head = 0
	}
}

// len is the number of remembered IDs.
func (f *replayFilter) len() int { return len(f.seen) }
