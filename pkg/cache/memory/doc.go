// Package memory is the in-process cache.Layer (L1). It keeps decoded Go
// values, so a hit does no decoding and no allocation, in a W-TinyLFU store
// (github.com/maypok86/otter/v2) that resists scans: a burst of keys read
// once does not push out the keys that are read often.
//
// Contract:
//
//   - A Layer is safe for concurrent use. Get takes no lock shared by all
//     keys and allocates nothing.
//   - Values are stored as given, not copied: Set keeps Entry.Value and
//     Entry.Tags, and Get returns them to every caller. A caller must not
//     mutate a value (or a tag slice) after storing it, nor a value it got
//     back, because other goroutines may be reading it.
//   - Entry.Payload is never kept. With Options.MaxBytes the layer asks for
//     payloads (LayerInfo.NeedsPayload) only to weigh entries.
//   - Every entry expires at its own Entry.ExpiresAt. An entry whose
//     deadline has passed on the layer's clock is never returned or
//     scanned, and Set does not store one that has already expired.
//   - The layer is bounded by Options.MaxEntries and, if set,
//     Options.MaxBytes. Eviction runs on the writer of every 16th write
//     (and once a second on its own): in between, the layer may hold up to
//     the last 16 writes over its bounds.
//   - Close removes every entry and stops the store's clean-up goroutine;
//     afterwards every method but Close returns ErrClosed.
//
// Operations never block on I/O, so they ignore their context, except Scan,
// which stops when it ends.
package memory
