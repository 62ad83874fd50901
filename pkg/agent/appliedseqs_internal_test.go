package agent

import (
	"slices"
	"testing"
)

func TestAppliedSeqsWatermarkIsContiguous(t *testing.T) {
	t.Parallel()
	// op is add(seq), or cover(seq) with flush, or reset(seq) with reset.
	type op struct {
		seq          int64
		flush, reset bool
	}
	add := func(seqs ...int64) []op {
		var ops []op
		for _, s := range seqs {
			ops = append(ops, op{seq: s})
		}
		return ops
	}
	tests := []struct {
		name      string
		limit     int
		ops       []op
		wantMoved bool // what the last op reported
		through   int64
		above     []int64
	}{
		{"in order", 4, add(1, 2, 3), true, 3, nil},
		{"above a hole", 4, add(3, 2, 5), false, 0, []int64{2, 3, 5}},
		{"the hole filled passes the run above it", 4, add(3, 2, 5, 1), true, 3, []int64{5}},
		{"a repeat changes nothing", 4, add(1, 3, 3, 1), false, 1, []int64{3}},
		{"at the cap the highest are forgotten", 2, add(4, 2, 3), false, 0, []int64{2, 3}},
		{"at the cap a higher one is not kept", 2, add(2, 3, 9), false, 0, []int64{2, 3}},
		{"a forgotten one stops the watermark below it", 2, add(4, 2, 3, 1), true, 3, nil},
		{"without room it still counts in order", 0, add(2, 1, 2), true, 2, nil},
		{"a flush covers below it and passes the run above", 4, append(add(2, 4, 5, 7), op{seq: 3, flush: true}), true, 5, []int64{7}},
		{"a flush below the watermark changes nothing", 4, append(add(1, 2), op{seq: 1, flush: true}), false, 2, nil},
		{"reset drops what was above", 4, append(add(1, 3, 4), op{seq: 0, reset: true}), false, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := appliedSeqs{limit: tc.limit}
			var moved bool
			for _, o := range tc.ops {
				switch {
				case o.reset:
					s.reset(o.seq)
					moved = false
				case o.flush:
					moved = s.cover(o.seq)
				default:
					moved = s.add(o.seq)
				}
			}
			if moved != tc.wantMoved || s.through != tc.through || !slices.Equal(s.above, tc.above) {
				t.Fatalf("after %+v: moved %v, through %d, above %v; want %v, %d, %v",
					tc.ops, moved, s.through, s.above, tc.wantMoved, tc.through, tc.above)
			}
		})
	}
}
