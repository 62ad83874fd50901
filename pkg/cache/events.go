package cache

import (
	"sync"
	"sync/atomic"
	"time"
)

// EventType names what happened.
type EventType uint8

// Event types. Keys in events are qualified (namespace prefix included).
const (
	// EventHit: a layer returned a usable entry (Layer, State set).
	EventHit EventType = iota + 1
	// EventMiss: no layer held a usable entry.
	EventMiss
	// EventFetch: a fetcher call finished (Duration, Err set).
	EventFetch
	// EventDedupe: a caller joined a fetch another caller started.
	EventDedupe
	// EventBackfill: a faster layer was filled from a slower one (Layer is
	// the layer written).
	EventBackfill
	// EventSet: an entry was written to every layer.
	EventSet
	// EventDelete: a key was deleted from every layer.
	EventDelete
	// EventStaleServe: a stale entry was served (State says which window).
	EventStaleServe
	// EventRefresh: a background refresh finished (Err set on failure).
	EventRefresh
	// EventCorrupt: a layer held an entry that could not be decoded; it was
	// treated as a miss and deleted.
	EventCorrupt
	// EventError: a layer operation failed (Layer, Err set).
	EventError
	// EventExpire: a key was marked stale by an Expire* call.
	EventExpire
	// EventDegraded: a failing layer is skipped for Options.DegradeFor.
	EventDegraded
	// EventBreakerOpen: a fetch was refused by an open circuit breaker.
	EventBreakerOpen
	// EventRemoteInvalidation: a message from another instance (the
	// invalidation bus) dropped or expired Key in the local layers; Key is
	// empty for clears and for the drop of every local copy that follows a
	// bus reconnect.
	EventRemoteInvalidation
)

var eventNames = [...]string{
	EventHit: "hit", EventMiss: "miss", EventFetch: "fetch", EventDedupe: "stampede-dedupe",
	EventBackfill: "backfill", EventSet: "set", EventDelete: "delete", EventStaleServe: "stale-serve",
	EventRefresh: "refresh", EventCorrupt: "corrupt", EventError: "error", EventExpire: "expire",
	EventDegraded: "degraded", EventBreakerOpen: "breaker-open", EventRemoteInvalidation: "remote-invalidation",
}

// String returns the event's name.
func (t EventType) String() string {
	if int(t) < len(eventNames) && eventNames[t] != "" {
		return eventNames[t]
	}
	return "unknown"
}

// Event describes one thing the Stack did. Listeners receive it by value.
type Event struct {
	Type     EventType
	Key      string        // qualified key; empty for stack-wide events
	Layer    string        // layer name, when one layer is concerned
	State    State         // for hits and stale serves
	Err      error         // for failures
	Duration time.Duration // for fetches and refreshes
}

// Listener receives events. It runs on the goroutine that caused the event,
// some events while the Stack holds the write locks of the keys being
// written (sets, deletes, backfills, invalidations, Clear), so it must be
// fast and must not write to the Stack: a write of any key from a listener
// can wait for a lock its own caller holds. Reads are safe; hand writes to
// another goroutine.
type Listener func(Event)

// listeners is a copy-on-write list: emitting takes no lock.
type listeners struct {
	mu   sync.Mutex // serialises writers
	list atomic.Pointer[[]*Listener]
}

func (l *listeners) add(fn Listener) (remove func()) {
	p := &fn
	l.mu.Lock()
	old := l.load()
	next := make([]*Listener, len(old), len(old)+1)
	copy(next, old)
	next = append(next, p)
	l.list.Store(&next)
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		cur := l.load()
		next := make([]*Listener, 0, len(cur))
		for _, q := range cur {
			if q != p {
				next = append(next, q)
			}
		}
		l.list.Store(&next)
	}
}

func (l *listeners) load() []*Listener {
	if p := l.list.Load(); p != nil {
		return *p
	}
	return nil
}

// active reports whether anyone listens, so callers can skip building events.
func (l *listeners) active() bool {
	p := l.list.Load()
	return p != nil && len(*p) > 0
}

func (l *listeners) emit(e Event) {
	for _, fn := range l.load() {
		(*fn)(e)
	}
}
