// Package xlist is an intrusive doubly linked list: the links live in the
// elements themselves (embed Links), so putting an element on a list or
// moving it allocates nothing. The breaker and rate-limit packages keep their
// least-recently-used order with it.
//
// A List is not safe for concurrent use; its owner guards it. The zero List
// is empty and ready to use. An element may be on one list at a time.
package xlist

// Links is embedded in an element type E to let it sit on a List.
type Links[E any] struct {
	prev, next *E
}

// ListLinks returns the element's links; embedding Links provides it.
func (l *Links[E]) ListLinks() *Links[E] { return l }

// Element constrains the pointer type of list elements.
type Element[E any] interface {
	*E
	ListLinks() *Links[E]
}

// List is a list of *E, most recently pushed first.
type List[E any, P Element[E]] struct {
	head, tail *E
}

// Front returns the first element, or nil.
func (l *List[E, P]) Front() *E { return l.head }

// Back returns the last element, or nil.
func (l *List[E, P]) Back() *E { return l.tail }

// Next returns the element after e, or nil.
func (l *List[E, P]) Next(e *E) *E { return P(e).ListLinks().next }

// Prev returns the element before e, or nil.
func (l *List[E, P]) Prev(e *E) *E { return P(e).ListLinks().prev }

// PushFront puts e, which must not be on a list, first.
func (l *List[E, P]) PushFront(e *E) {
	links := P(e).ListLinks()
	links.prev, links.next = nil, l.head
	if l.head != nil {
		P(l.head).ListLinks().prev = e
	}
	l.head = e
	if l.tail == nil {
		l.tail = e
	}
}

// Remove takes e off the list.
func (l *List[E, P]) Remove(e *E) {
	links := P(e).ListLinks()
	if links.prev != nil {
		P(links.prev).ListLinks().next = links.next
	} else {
		l.head = links.next
	}
	if links.next != nil {
		P(links.next).ListLinks().prev = links.prev
	} else {
		l.tail = links.prev
	}
	links.prev, links.next = nil, nil
}

// MoveToFront makes e, which is on the list, the first element.
func (l *List[E, P]) MoveToFront(e *E) {
	if l.head != e {
		l.Remove(e)
		l.PushFront(e)
	}
}
