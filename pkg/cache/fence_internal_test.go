package cache

import (
	"fmt"
	"testing"
)

// sameStripe returns n distinct keys, other than key, on key's stripe.
func sameStripe(t *testing.T, f *fences, key string, n int) []string {
	t.Helper()
	want := f.hash(key) % fenceStripes
	var out []string
	for i := 0; len(out) < n; i++ {
		if i > 1_000_000 {
			t.Fatal("no colliding keys found")
		}
		k := fmt.Sprintf("other:%d", i)
		if f.hash(k)%fenceStripes == want {
			out = append(out, k)
		}
	}
	return out
}

func TestFenceSupersession(t *testing.T) {
	t.Parallel()
	nop := func() {}
	tests := []struct {
		name        string
		between     func(f *fences, others []string)
		wantCurrent bool
	}{
		{"nothing happened", func(*fences, []string) {}, true},
		{"a fill of another key on the stripe", func(f *fences, o []string) {
			f.writeIfCurrent(f.capture(o[0]), nop)
		}, true},
		{"fills of other keys up to what the stripe remembers", func(f *fences, o []string) {
			for _, k := range o[:fillMemory] {
				f.writeIfCurrent(f.capture(k), nop)
			}
		}, true},
		{"more fills than the stripe remembers", func(f *fences, o []string) {
			for _, k := range o[:fillMemory+1] {
				f.writeIfCurrent(f.capture(k), nop)
			}
		}, false},
		{"a fill of the same key", func(f *fences, _ []string) {
			f.writeIfCurrent(f.capture("k"), nop)
		}, false},
		{"a bulk fill including the same key", func(f *fences, o []string) {
			f.writeManyIfCurrent([]fence{f.capture(o[0]), f.capture("k")}, func([]int) {})
		}, false},
		{"a write of the same key", func(f *fences, _ []string) { f.write("k", nop) }, false},
		{"a write of another key on the stripe", func(f *fences, o []string) { f.write(o[0], nop) }, false},
		{"a bulk write", func(f *fences, o []string) { f.writeMany([]string{"x", o[1]}, nop) }, false},
		{"a clear", func(f *fences, _ []string) { f.clearAll(nop) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFences()
			others := sameStripe(t, f, "k", fillMemory+1)
			fc := f.capture("k")
			tt.between(f, others)
			ran := f.writeIfCurrent(fc, nop)
			if ran != tt.wantCurrent {
				t.Fatalf("store after %s ran = %v, want %v", tt.name, ran, tt.wantCurrent)
			}
		})
	}
}

func TestBulkFillSkipsOnlySupersededKeys(t *testing.T) {
	t.Parallel()
	f := newFences()
	fa, fb := f.capture("a"), f.capture("b")
	f.write("b", func() {})
	var stored []int
	fenced := f.writeManyIfCurrent([]fence{fa, fb}, func(current []int) { stored = current })
	if fenced != 1 || len(stored) != 1 || stored[0] != 0 {
		t.Fatalf("bulk fill stored %v (fenced %d), want only index 0 stored and 1 fenced", stored, fenced)
	}
}
