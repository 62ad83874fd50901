package agent

import "slices"

// appliedSeqs is the set of invalidation sequences applied to the local
// tiers, kept as a contiguous watermark and the sequences applied above
// it: every sequence up to through has been applied (or is covered by a
// flush), and so has each one in above.
//
// The operator numbers a policy's invalidations 1, 2, 3, … and reads the
// watermark as "this agent has every invalidation up to here": it skips
// the catch-up replay, and confirms a snapshot-restored agent ready, once
// the watermark reaches its last sequence. So the watermark must never
// pass a sequence that was not applied. A sequence applied out of order
// (the one before it failed on this pod and awaits its retry or replay)
// waits in above, and the watermark moves past it as soon as the gap
// below it is filled.
//
// above holds at most limit sequences; past that the highest are
// forgotten. Forgetting one is safe: the watermark then stops below it
// when the gap fills, and the operator's catch-up replays it. The replay
// goes from the watermark up, in order, so each one fills the lowest gap
// and the watermark always advances: the cap costs replays, never
// correctness.
//
// The zero value has watermark 0 and no room above it. It is not safe
// for concurrent use.
type appliedSeqs struct {
	through int64
	above   []int64 // ascending, each above through+1
	limit   int     // most sequences kept in above
}

// add records seq as applied and reports whether the watermark moved.
func (s *appliedSeqs) add(seq int64) bool {
	if seq <= s.through {
		return false
	}
	if seq == s.through+1 {
		s.through = seq
		s.absorb()
		return true
	}
	i, found := slices.BinarySearch(s.above, seq)
	if found || i >= s.limit {
		return false // known, or among the highest, which go first
	}
	s.above = slices.Insert(s.above, i, seq)
	if len(s.above) > s.limit {
		s.above = s.above[:s.limit]
	}
	return false
}

// cover records every sequence up to seq as applied, and reports whether
// the watermark moved. It is for a flush (target all): once the local
// tiers are empty, no invalidation numbered before it has anything left
// to remove. The operator fills a hole in its history (a Failed run, a
// sequence lost to a crash, one deleted by history GC) with such a flush.
func (s *appliedSeqs) cover(seq int64) bool {
	if seq <= s.through {
		return false
	}
	s.through = seq
	covered, _ := slices.BinarySearch(s.above, seq+1)
	s.above = slices.Delete(s.above, 0, covered)
	s.absorb()
	return true
}

// reset makes seq the watermark and forgets the sequences above it: the
// local tiers are now only as current as seq says.
func (s *appliedSeqs) reset(seq int64) {
	s.through, s.above = seq, nil
}

// absorb moves the watermark over the sequences of above that continue
// it.
func (s *appliedSeqs) absorb() {
	n := 0
	for n < len(s.above) && s.above[n] == s.through+1 {
		s.through++
		n++
	}
	s.above = slices.Delete(s.above, 0, n)
}
