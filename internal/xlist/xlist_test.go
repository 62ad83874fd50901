package xlist

import (
	"slices"
	"testing"
)

type item struct {
	Links[item]
	n int
}

func values(l *List[item, *item]) []int {
	var out []int
	for e := l.Front(); e != nil; e = l.Next(e) {
		out = append(out, e.n)
	}
	var back []int
	for e := l.Back(); e != nil; e = l.Prev(e) {
		back = append(back, e.n)
	}
	slices.Reverse(back)
	if !slices.Equal(out, back) {
		panic("forward and backward walks disagree")
	}
	return out
}

func TestPushRemoveAndMove(t *testing.T) {
	var l List[item, *item]
	a, b, c := &item{n: 1}, &item{n: 2}, &item{n: 3}
	l.PushFront(a)
	l.PushFront(b)
	l.PushFront(c)
	if got := values(&l); !slices.Equal(got, []int{3, 2, 1}) {
		t.Fatalf("after pushes: %v", got)
	}
	l.MoveToFront(a)
	if got := values(&l); !slices.Equal(got, []int{1, 3, 2}) {
		t.Fatalf("after MoveToFront(1): %v", got)
	}
	l.Remove(c)
	if got := values(&l); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("after Remove(3): %v", got)
	}
	l.Remove(a)
	l.Remove(b)
	if l.Front() != nil || l.Back() != nil {
		t.Fatal("list not empty after removing everything")
	}
	if allocs := testing.AllocsPerRun(100, func() { l.PushFront(a); l.Remove(a) }); allocs != 0 {
		t.Errorf("push and remove allocate %.0f times", allocs)
	}
}
