package agent

import (
	"fmt"
	"testing"
)

func TestBoundedLogForgetsTheOldest(t *testing.T) {
	t.Parallel()
	l := newBoundedLog[int](3)
	for i := range 5 {
		l.record(fmt.Sprint(i), i)
	}
	l.record("4", 40) // an update does not take a new slot
	for i, want := range []bool{false, false, true, true, true} {
		if _, ok := l.lookup(fmt.Sprint(i)); ok != want {
			t.Errorf("lookup(%d) found=%v; want %v", i, ok, want)
		}
	}
	if v, _ := l.lookup("4"); v != 40 {
		t.Errorf("lookup(4) = %d; want the update, 40", v)
	}
}

func TestBoundedLogForgetKeepsTheOrderOfTheRest(t *testing.T) {
	t.Parallel()
	l := newBoundedLog[int](4)
	for i := range 6 { // the ring wraps: 2, 3, 4, 5 are kept
		l.record(fmt.Sprint(i), i)
	}
	l.forget(func(v int) bool { return v == 3 })
	l.record("6", 6) // room again: nothing is forgotten
	l.record("7", 7) // full: the oldest, 2, is forgotten
	for i, want := range []bool{false, false, false, false, true, true, true, true} {
		if _, ok := l.lookup(fmt.Sprint(i)); ok != want {
			t.Errorf("lookup(%d) found=%v; want %v", i, ok, want)
		}
	}
}
