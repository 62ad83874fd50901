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
