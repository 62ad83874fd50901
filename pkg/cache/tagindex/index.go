package tagindex

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Work bounds for the lazy removal of expired associations.
const (
	// trackPurge is how many expired associations a Track removes at most.
	// More than one, so that expired associations cannot pile up faster
	// than writes remove them.
	trackPurge = 8
	// keysPurge is how many expired associations a Keys removes at most
	// before it looks for matches.
	keysPurge = 1024
)

// never is the deadline of an association that does not expire: it sorts
// after every real deadline.
const never = math.MaxInt64

// Index is the in-process cache.TagIndex. Create it with New; the zero
// value is not usable. It is safe for concurrent use.
type Index struct {
	clock   Clock
	maxKeys int
	dropped atomic.Uint64

	mu    sync.RWMutex       // protects the fields below
	keys  map[string]*record // key → its record
	tags  map[string]keySet  // tag → keys that carry it; no empty sets
	byExp expiryHeap         // every record, soonest deadline first
	seq   uint64             // counts Tracks, to order equal deadlines
}

// keySet is the set of keys that carry one tag, each mapped to its record.
type keySet map[string]*record

// record is what the Index knows about one key.
type record struct {
	key      string
	tags     []string // sorted, distinct; owned by the Index
	deadline int64    // expiresAt, or never
	seq      uint64   // Index.seq at the key's last Track
	pos      int      // position in Index.byExp
}

// New returns an empty Index configured by opts, or an error naming the
// first invalid field.
func New(opts Options) (*Index, error) {
	c, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	return &Index{
		clock:   c.clock,
		maxKeys: c.maxKeys,
		keys:    make(map[string]*record),
		tags:    make(map[string]keySet),
	}, nil
}

// Track records that key carries exactly tags until expiresAt (Unix
// nanoseconds on the Index's clock; 0: never), replacing the tags it had:
// the key leaves the tags it no longer carries. Duplicate tags count once.
// An empty tags, or an expiresAt that has already passed, removes the key
// from the Index. Track keeps key and copies tags.
//
// If the Index then holds more than Options.MaxKeys keys, the associations
// that expire soonest are dropped (see Options.MaxKeys). Track never
// fails; it ignores ctx.
func (ix *Index) Track(_ context.Context, key string, tags []string, expiresAt int64) error {
	now := ix.clock.NowNano()
	if len(tags) == 0 || (expiresAt != 0 && expiresAt <= now) {
		ix.mu.Lock()
		defer ix.mu.Unlock()
		if r, ok := ix.keys[key]; ok {
			ix.remove(r)
		}
		ix.purge(now, trackPurge)
		return nil
	}
	deadline := expiresAt
	if deadline == 0 {
		deadline = never
	}
	ts := normalize(tags)

	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.seq++
	if r, ok := ix.keys[key]; ok {
		ix.retag(r, ts)
		r.deadline, r.seq = deadline, ix.seq
		ix.byExp.fix(r.pos)
	} else {
		r := &record{key: key, tags: ts, deadline: deadline, seq: ix.seq}
		ix.keys[key] = r
		for _, t := range ts {
			ix.addTag(t, r)
		}
		ix.byExp.push(r)
	}
	ix.purge(now, trackPurge)
	for len(ix.keys) > ix.maxKeys {
		r := ix.byExp[0]
		if r.deadline > now {
			ix.dropped.Add(1)
		}
		ix.remove(r)
	}
	return nil
}

// Untrack removes keys and their associations. Keys the Index does not
// track are ignored. Untrack never fails; it ignores ctx.
func (ix *Index) Untrack(_ context.Context, keys []string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, k := range keys {
		if r, ok := ix.keys[k]; ok {
			ix.remove(r)
		}
	}
	return nil
}

// Keys calls fn with the keys that carry any of tags (all false) or every
// one of them (all true), each key once, in batches of at most batch keys,
// until fn returns an error, which Keys returns as is. An empty tags
// matches nothing. Associations that have expired are not reported.
//
// Keys copies the matching keys under the Index's read lock and calls fn
// with the lock released, so fn may call Untrack or Track. The copy is
// taken once: keys tracked while fn runs are not reported, and keys
// untracked while fn runs still are. fn owns each slice it is given. Keys
// returns an error wrapping ctx.Err() if ctx ends between batches, and an
// error without calling fn if batch is not positive.
func (ix *Index) Keys(ctx context.Context, tags []string, all bool, batch int, fn func(keys []string) error) error {
	if batch <= 0 {
		return fmt.Errorf("tag index: batch must be positive, got %d", batch)
	}
	if len(tags) == 0 {
		return nil
	}
	now := ix.clock.NowNano()
	ix.mu.Lock()
	ix.purge(now, keysPurge)
	ix.mu.Unlock()

	ix.mu.RLock()
	var matched []string
	if all {
		matched = ix.matchAll(tags, now)
	} else {
		matched = ix.matchAny(tags, now)
	}
	ix.mu.RUnlock()

	for len(matched) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("tag index: keys: %w", err)
		}
		n := min(batch, len(matched))
		if err := fn(matched[:n:n]); err != nil {
			return err
		}
		matched = matched[n:]
	}
	return nil
}

// Clear removes every association. It does not reset Dropped. Clear never
// fails; it ignores ctx.
func (ix *Index) Clear(context.Context) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, r := range ix.byExp {
		r.pos = -1
	}
	ix.keys = make(map[string]*record)
	ix.tags = make(map[string]keySet)
	ix.byExp = nil
	return nil
}

// Len returns how many keys the Index tracks, including expired ones it has
// not removed yet.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.keys)
}

// Dropped returns how many live associations have been dropped since New
// because the Index exceeded Options.MaxKeys. Each one is a key that an
// invalidation by tag may have missed.
func (ix *Index) Dropped() uint64 { return ix.dropped.Load() }

// matchAny returns the live keys that carry any of tags, each once. The
// caller holds ix.mu (at least for reading).
func (ix *Index) matchAny(tags []string, now int64) []string {
	if len(tags) == 1 {
		set := ix.tags[tags[0]]
		out := make([]string, 0, len(set))
		for k, r := range set {
			if r.deadline > now {
				out = append(out, k)
			}
		}
		return out
	}
	var out []string
	seen := make(map[string]struct{})
	for _, t := range tags {
		for k, r := range ix.tags[t] {
			if r.deadline <= now {
				continue
			}
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return out
}

// matchAll returns the live keys that carry every one of tags. It walks the
// smallest of the tags' sets and looks each key up in the others. The
// caller holds ix.mu (at least for reading).
func (ix *Index) matchAll(tags []string, now int64) []string {
	sets := make([]keySet, 0, len(tags))
	for _, t := range tags {
		set, ok := ix.tags[t]
		if !ok {
			return nil
		}
		sets = append(sets, set)
	}
	smallest := 0
	for i, s := range sets {
		if len(s) < len(sets[smallest]) {
			smallest = i
		}
	}
	var out []string
next:
	for k, r := range sets[smallest] {
		if r.deadline <= now {
			continue
		}
		for i, s := range sets {
			if i == smallest {
				continue
			}
			if _, ok := s[k]; !ok {
				continue next
			}
		}
		out = append(out, k)
	}
	return out
}

// retag moves r from its tags to ts (both sorted and distinct): it leaves
// the tags only it has and joins the tags only ts has. The caller holds
// ix.mu.
func (ix *Index) retag(r *record, ts []string) {
	old := r.tags
	i, j := 0, 0
	for i < len(old) || j < len(ts) {
		switch {
		case j == len(ts) || (i < len(old) && old[i] < ts[j]):
			ix.removeTag(old[i], r.key)
			i++
		case i == len(old) || ts[j] < old[i]:
			ix.addTag(ts[j], r)
			j++
		default: // carried before and after
			i++
			j++
		}
	}
	r.tags = ts
}

// remove forgets r entirely. The caller holds ix.mu.
func (ix *Index) remove(r *record) {
	for _, t := range r.tags {
		ix.removeTag(t, r.key)
	}
	delete(ix.keys, r.key)
	ix.byExp.remove(r.pos)
}

func (ix *Index) addTag(tag string, r *record) {
	set, ok := ix.tags[tag]
	if !ok {
		set = make(keySet)
		ix.tags[tag] = set
	}
	set[r.key] = r
}

func (ix *Index) removeTag(tag, key string) {
	set := ix.tags[tag]
	delete(set, key)
	if len(set) == 0 {
		// Go maps do not shrink: drop the empty set rather than keep its
		// buckets.
		delete(ix.tags, tag)
	}
}

// purge removes at most limit expired associations. The caller holds
// ix.mu.
func (ix *Index) purge(now int64, limit int) {
	for ; limit > 0 && len(ix.byExp) > 0 && ix.byExp[0].deadline <= now; limit-- {
		ix.remove(ix.byExp[0])
	}
}

// normalize returns a sorted copy of tags without duplicates.
func normalize(tags []string) []string {
	ts := slices.Clone(tags)
	slices.Sort(ts)
	return slices.Clip(slices.Compact(ts))
}
