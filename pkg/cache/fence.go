package cache

import (
	"hash/maphash"
	"slices"
	"sync"
)

// fenceStripes is the number of write stripes. Keys hash onto stripes; a
// collision only makes a fetched value skip its store (it is still returned),
// never the reverse, so the table stays small and bounded.
const fenceStripes = 512

// fences implements write fencing: a fetch (or backfill) that read the
// layers before a Set, Delete, invalidation or Clear of its key must not store
// its older result over the newer state.
//
// Every write of a key takes its stripe's lock and bumps the stripe's epoch.
// A fetch captures the epoch before it reads the layers and stores its result
// only if, holding the lock, the epoch is unchanged. Holding the lock across
// the layer writes is what makes check-and-store atomic: a concurrent Set of
// the same key waits instead of landing between the check and the store.
type fences struct {
	seed    maphash.Seed
	clearMu sync.RWMutex // Clear holds it exclusively; every stripe lock holder shares it
	clearEp uint64       // guarded by clearMu
	stripes [fenceStripes]stripe
}

type stripe struct {
	mu    sync.Mutex
	epoch uint64 // guarded by mu
	_     [40]byte
}

// fence is a captured position: the state a fetch saw before reading.
type fence struct {
	stripe  uint32
	epoch   uint64
	clearEp uint64
}

func newFences() *fences {
	return &fences{seed: maphash.MakeSeed()}
}

func (f *fences) index(key string) uint32 {
	return uint32(maphash.String(f.seed, key) % fenceStripes)
}

// capture returns the current position of key.
func (f *fences) capture(key string) fence {
	i := f.index(key)
	f.clearMu.RLock()
	s := &f.stripes[i]
	s.mu.Lock()
	fc := fence{stripe: i, epoch: s.epoch, clearEp: f.clearEp}
	s.mu.Unlock()
	f.clearMu.RUnlock()
	return fc
}

// write runs fn as a write of key that supersedes every earlier capture.
func (f *fences) write(key string, fn func()) {
	f.clearMu.RLock()
	s := &f.stripes[f.index(key)]
	s.mu.Lock()
	s.epoch++
	fn()
	s.mu.Unlock()
	f.clearMu.RUnlock()
}

// writeIfCurrent runs fn only if nothing wrote key since fc was captured.
// It reports whether fn ran.
func (f *fences) writeIfCurrent(fc fence, fn func()) bool {
	f.clearMu.RLock()
	defer f.clearMu.RUnlock()
	s := &f.stripes[fc.stripe]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != fc.epoch || f.clearEp != fc.clearEp {
		return false
	}
	fn()
	s.epoch++ // a fetch that read before this one must not store over it
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

// lockMany locks the distinct stripes of keys in ascending order (so two bulk
// writers cannot deadlock) and returns the function that unlocks them.
func (f *fences) lockMany(keys []string) (idx []uint32, unlock func()) {
	idx = make([]uint32, len(keys))
	for i, k := range keys {
		idx[i] = f.index(k)
	}
	order := slices.Clone(idx)
	slices.Sort(order)
	order = slices.Compact(order)
	f.clearMu.RLock()
	for _, i := range order {
		f.stripes[i].mu.Lock()
	}
	return idx, func() {
		for _, i := range order {
			f.stripes[i].epoch++
			f.stripes[i].mu.Unlock()
		}
		f.clearMu.RUnlock()
	}
}

// writeMany runs fn as a write of every key in keys.
func (f *fences) writeMany(keys []string, fn func()) {
	_, unlock := f.lockMany(keys)
	defer unlock()
	fn()
}

// writeManyIfCurrent runs fn with the subset of keys (by index) whose fence
// is still current.
func (f *fences) writeManyIfCurrent(keys []string, fcs []fence, fn func(current []int)) (fenced int) {
	_, unlock := f.lockMany(keys)
	defer unlock()
	current := make([]int, 0, len(keys))
	for i, fc := range fcs {
		if f.stripes[fc.stripe].epoch == fc.epoch && f.clearEp == fc.clearEp {
			current = append(current, i)
		}
	}
	if len(current) > 0 {
		fn(current)
	}
	return len(keys) - len(current)
}
