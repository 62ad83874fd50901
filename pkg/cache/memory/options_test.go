package memory

import (
	"strings"
	"testing"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      Options
		wantField string
	}{
		{"NegativeMaxEntries", Options{MaxEntries: -1}, "MaxEntries"},
		{"NegativeMaxBytes", Options{MaxBytes: -1}, "MaxBytes"},
		{"MaxBytesBelowEntryOverhead", Options{MaxBytes: EntryOverhead - 1}, "MaxBytes"},
		{"NegativeInitialCapacity", Options{InitialCapacity: -1}, "InitialCapacity"},
		{"InitialCapacityAboveDefaultMaxEntries", Options{InitialCapacity: DefaultMaxEntries + 1}, "InitialCapacity"},
		{"InitialCapacityAboveMaxEntries", Options{MaxEntries: 10, InitialCapacity: 11}, "InitialCapacity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := New(tc.opts)
			if err == nil {
				_ = l.Close()
				t.Fatalf("New(%+v) = nil error, want one naming %s", tc.opts, tc.wantField)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "memory layer: ") || !strings.Contains(msg, tc.wantField) {
				t.Errorf("New(%+v) error = %q, want it to start with %q and name %s",
					tc.opts, msg, "memory layer: ", tc.wantField)
			}
		})
	}
}

func TestNewAcceptsValidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		opts        Options
		wantMaximum uint64 // the store's bound: entries, or bytes when weighted
		wantMinimum int64  // the least an entry is charged; 0 when not weighted
	}{
		{"ZeroValue", Options{}, DefaultMaxEntries, 0},
		{"MaxEntries", Options{MaxEntries: 5}, 5, 0},
		{"InitialCapacityAtMaxEntries", Options{MaxEntries: 5, InitialCapacity: 5}, 5, 0},
		{"MaxBytesAtEntryOverhead", Options{MaxBytes: EntryOverhead}, EntryOverhead, 1},
		{"MaxBytesWithDefaultMaxEntries", Options{MaxBytes: 1 << 20}, 1 << 20, (1<<20 + DefaultMaxEntries - 1) / DefaultMaxEntries},
		{"MaxBytesWithMaxEntries", Options{MaxBytes: 1000, MaxEntries: 3}, 1000, 334},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLayer(t, tc.opts)
			if got := l.store.GetMaximum(); got != tc.wantMaximum {
				t.Errorf("New(%+v): store maximum = %d, want %d", tc.opts, got, tc.wantMaximum)
			}
			if got := l.cfg.minCharge; got != tc.wantMinimum {
				t.Errorf("New(%+v): least charge per entry = %d, want %d", tc.opts, got, tc.wantMinimum)
			}
			if weighted := l.store.IsWeighted(); weighted != (tc.opts.MaxBytes > 0) {
				t.Errorf("New(%+v): weighted = %v, want %v", tc.opts, weighted, tc.opts.MaxBytes > 0)
			}
		})
	}
}

func TestNewDoesNotModifyOptions(t *testing.T) {
	t.Parallel()
	opts := Options{}
	newLayer(t, opts)
	if opts != (Options{}) {
		t.Errorf("New changed its Options to %+v", opts)
	}
}
