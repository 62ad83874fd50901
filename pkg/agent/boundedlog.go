package agent

import (
	"slices"
	"sync"
)

// boundedLog remembers the values of the last limit ids recorded; older
// ones are forgotten first. It is safe for concurrent use.
type boundedLog[V any] struct {
	mu     sync.Mutex // protects every field
	values map[string]V
	order  []string // a ring of the ids, oldest at next once full
	next   int
	limit  int
}

func newBoundedLog[V any](limit int) *boundedLog[V] {
	return &boundedLog[V]{values: make(map[string]V), limit: limit}
}

func (l *boundedLog[V]) lookup(id string) (V, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.values[id]
	return v, ok
}

func (l *boundedLog[V]) record(id string, v V) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, dup := l.values[id]; !dup {
		if len(l.order) < l.limit {
			l.order = append(l.order, id)
		} else {
			delete(l.values, l.order[l.next])
			l.order[l.next] = id
			l.next = (l.next + 1) % l.limit
		}
	}
	l.values[id] = v
}

// each calls fn with every value remembered, oldest first. fn must not use
// l.
func (l *boundedLog[V]) each(fn func(V)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range l.oldestFirst() {
		fn(l.values[id])
	}
}

// forget drops the ids whose value drop selects; the others keep their
// order, so the oldest of them is still forgotten first.
func (l *boundedLog[V]) forget(drop func(V) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	oldestFirst := l.oldestFirst()
	kept := oldestFirst[:0]
	for _, id := range oldestFirst {
		if drop(l.values[id]) {
			delete(l.values, id)
			continue
		}
		kept = append(kept, id)
	}
	l.order, l.next = kept, 0
}

// oldestFirst returns a new slice of the ids, oldest first; l.mu is held.
func (l *boundedLog[V]) oldestFirst() []string {
	return slices.Concat(l.order[l.next:], l.order[:l.next])
}
