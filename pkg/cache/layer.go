package cache

import (
	"context"
)

// Layer is one tier of a Stack. Implementations must be safe for concurrent
// use. The layers shipped with this module live in sub-packages (memory,
// rediscache, disk); users may write their own.
//
// A layer stores [Entry] values under already-qualified keys. Layers that keep
// decoded Go values (Info().Values) read and write Entry.Value; all others
// read and write Entry.Payload, the value encoded by the Stack's codec, and
// persist the whole entry with [AppendEntry] / [ParseEntry] or an equivalent
// format of their own.
//
// Expiry: a layer must stop returning an entry once Entry.ExpiresAt has
// passed (ExpiresAt 0 means the entry never expires). Returning an entry that
// has just expired is harmless: the Stack checks deadlines again.
//
// Errors: a missing key is not an error (found == false). Corrupt stored data
// is a miss too; the layer should delete it and may count it.
type Layer interface {
	// Info describes the layer. It must return the same value on every call.
	Info() LayerInfo

	// Get returns the entry stored under key.
	Get(ctx context.Context, key string) (e Entry, found bool, err error)
	// GetMany returns the entries for keys, in order: found[i] reports
	// whether entries[i] holds a value. Layers with a round-trip cost should
	// fetch all keys at once (pipelining, MGET).
	GetMany(ctx context.Context, keys []string) (entries []Entry, found []bool, err error)
	// Set stores e under key, replacing what was there. The layer must not
	// retain e.Payload's backing array past the call unless it owns a copy
	// (the Stack never mutates a payload after handing it to a layer, so
	// retaining it is allowed).
	Set(ctx context.Context, key string, e Entry) error
	// SetMany stores every item. It is not required to be atomic.
	SetMany(ctx context.Context, items []Item) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// DeleteMany removes keys, in bounded batches.
	DeleteMany(ctx context.Context, keys []string) error
	// Scan calls fn for every stored key that starts with prefix ("" for
	// all keys) until fn returns false. Keys may be reported more than once
	// and keys written during the scan may be missed. fn may call the
	// layer's other methods (the Stack deletes what it scans, batch by
	// batch), so Scan must not hold a lock that they take while calling fn.
	Scan(ctx context.Context, prefix string, fn func(key string) bool) error
	// Clear removes every key this layer owns (for a shared store: only the
	// keys under its own prefix).
	Clear(ctx context.Context) error
	// Ping reports whether the layer can serve requests.
	Ping(ctx context.Context) error
	// Close releases the layer's resources. Calls after Close may fail.
	Close() error
}

// EntryLender is implemented by layers that can lend a stored entry without
// copying it (the memory layer). When the fastest layer implements it, the
// Stack reads it through LendEntry on the hit path. The returned entry is
// read-only for the caller, and the layer must never modify an entry it has
// lent (replace it on writes instead).
type EntryLender interface {
	LendEntry(key string) (*Entry, bool)
}

// ClockLender is implemented by layers that keep time with a clock of their
// own (the memory layer's coarse clock). With Options.Clock unset, the Stack
// reads the clock of the fastest layer that lends one instead of starting a
// clock of its own: the Stack and the layer then agree on the time, and one
// ticking clock serves both, not two. The layer keeps owning it (the Stack
// closes its layers last).
type ClockLender interface {
	Clock() Clock
}

// LayerInfo describes a layer to the Stack.
type LayerInfo struct {
	// Name identifies the layer in metrics, events and per-layer options.
	// Names must be unique within a Stack.
	Name string
	// Shared is true when other processes see the layer's contents (Redis),
	// false for per-process tiers (memory, local disk).
	Shared bool
	// Values is true when the layer keeps decoded Go values in Entry.Value
	// (memory). Such layers never see Entry.Payload unless NeedsPayload is set.
	Values bool
	// NeedsPayload asks the Stack to encode values even for a Values layer
	// (for example to weigh entries by their encoded size).
	NeedsPayload bool
}

// Item is one entry of a bulk write.
type Item struct {
	Key   string
	Entry Entry
}
