package cache

import (
	"hash/maphash"
	"slices"
	"sync"
)

// fenceStripes is the number of write stripes. Keys hash onto stripes; a
// collision between a write and a fetch only makes the fetched value skip its
// store (it is still returned), never the reverse, so the table stays small
// and bounded.
const fenceStripes = 512

// fillMemory is how many recent fills (stores of fetched or backfilled
// values) a stripe remembers by key. A fill supersedes only earlier captures
// of its own key; when more fills than this landed on the stripe since a
// capture, the capture is treated as superseded, which is safe (the value is
// still returned, just not stored).
const fillMemory = 4

// fences implements write fencing: a fetch (or backfill) that read the
// layers before a Set, Delete, invalidation or Clear of its key must not store
// its older result over the newer state.
//
// Every write of a key takes its stripe's lock and bumps the stripe's epoch.
// A fetch captures the epoch before it reads the layers and stores its result
// only if, holding the lock, the epoch is unchanged and no later fill of the
// same key landed. Holding the lock across the layer writes is what makes
// check-and-store atomic: a concurrent Set of the same key waits instead of
// landing between the check and the store.
//
// Fills are tracked by key, not by stripe: under load, a stripe sees fills of
// many unrelated keys, and letting each of them fence the others would drop
// stores and lower the hit ratio for no gain in consistency.
type fences struct {
	seed    maphash.Seed
	clearMu sync.RWMutex // Clear holds it exclusively; every stripe lock holder shares it
	clearEp uint64       // guarded by clearMu
	stripes [fenceStripes]stripe
}

type stripe struct {
	mu     sync.Mutex
	epoch  uint64             // writes; guarded by mu
	fills  uint64             // fills so far; guarded by mu
	recent [fillMemory]uint64 // key hashes of the last fills, at fills % fillMemory; guarded by mu
	_      [8]byte            // one stripe per 64-byte cache line
}

// fence is a captured position: the state a fetch saw before reading.
type fence struct {
	hash    uint64
	epoch   uint64
	fills   uint64
	clearEp uint64
}

func newFences() *fences {
	return &fences{seed: maphash.MakeSeed()}
}

func (f *fences) hash(key string) uint64 { return maphash.String(f.seed, key) }

func (f *fences) stripeOf(h uint64) *stripe { return &f.stripes[h%fenceStripes] }

// capture returns the current position of key.
func (f *fences) capture(key string) fence {
	h := f.hash(key)
	f.clearMu.RLock()
	s := f.stripeOf(h)
	s.mu.Lock()
	fc := fence{hash: h, epoch: s.epoch, fills: s.fills, clearEp: f.clearEp}
	s.mu.Unlock()
	f.clearMu.RUnlock()
	return fc
}

// current reports whether nothing wrote fc's key since it was captured. The
// caller holds the stripe's lock and clearMu for reading.
func (f *fences) current(s *stripe, fc fence) bool {
	if s.epoch != fc.epoch || f.clearEp != fc.clearEp {
		return false
	}
	n := s.fills - fc.fills
	if n > fillMemory {
		return false // too many fills to know whether one was of this key
	}
	for i := uint64(1); i <= n; i++ {
		if s.recent[(s.fills-i)%fillMemory] == fc.hash {
			return false
		}
	}
	return true
}

// filled records a fill of the key hashed to h, so a fetch of that key that
// read before it does not store over it. The caller holds the stripe's lock.
func (s *stripe) filled(h uint64) {
	s.recent[s.fills%fillMemory] = h
	s.fills++
}

// write runs fn as a write of key that supersedes every earlier capture.
func (f *fences) write(key string, fn func()) {
	f.clearMu.RLock()
	s := f.stripeOf(f.hash(key))
	s.mu.Lock()
	s.epoch++
	fn()
	s.mu.Unlock()
	f.clearMu.RUnlock()
}

// writeIfCurrent runs fn as a fill of fc's key only if nothing wrote the key
// since fc was captured. It reports whether fn ran.
func (f *fences) writeIfCurrent(fc fence, fn func()) bool {
	f.clearMu.RLock()
	defer f.clearMu.RUnlock()
	s := f.stripeOf(fc.hash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !f.current(s, fc) {
		return false
	}
	fn()
	s.filled(fc.hash)
	return true
}

// clearAll runs fn as a write of every key: it waits for running writes and
// invalidates every earlier capture.
func (f *fences) clearAll(fn func()) {
	f.clearMu.Lock()
	f.clearEp++
	fn()
	f.clearMu.Unlock()
}

// lockMany locks the distinct stripes of hashes in ascending order (so two
// bulk writers cannot deadlock) and returns the function that unlocks them.
func (f *fences) lockMany(hashes []uint64) (unlock func()) {
	order := make([]uint32, len(hashes))
	for i, h := range hashes {
		order[i] = uint32(h % fenceStripes)
	}
	slices.Sort(order)
	order = slices.Compact(order)
	f.clearMu.RLock()
	for _, i := range order {
		f.stripes[i].mu.Lock()
	}
	return func() {
		for _, i := range order {
			f.stripes[i].mu.Unlock()
		}
		f.clearMu.RUnlock()
	}
}

// writeMany runs fn as a write of every key in keys.
func (f *fences) writeMany(keys []string, fn func()) {
	hashes := make([]uint64, len(keys))
	for i, k := range keys {
		hashes[i] = f.hash(k)
	}
	unlock := f.lockMany(hashes)
	defer unlock()
	for _, h := range hashes {
		f.stripeOf(h).epoch++
	}
	fn()
}

// writeManyIfCurrent runs fn as a fill of the subset of fcs (by index) that
// is still current, and reports how many were fenced out.
func (f *fences) writeManyIfCurrent(fcs []fence, fn func(current []int)) (fenced int) {
	hashes := make([]uint64, len(fcs))
	for i, fc := range fcs {
		hashes[i] = fc.hash
	}
	unlock := f.lockMany(hashes)
	defer unlock()
	current := make([]int, 0, len(fcs))
	for i, fc := range fcs {
		if f.current(f.stripeOf(fc.hash), fc) {
			current = append(current, i)
		}
	}
	if len(current) > 0 {
		fn(current)
		for _, i := range current {
			f.stripeOf(fcs[i].hash).filled(fcs[i].hash)
		}
	}
	return len(fcs) - len(current)
}
