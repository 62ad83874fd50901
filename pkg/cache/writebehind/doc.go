// Package writebehind is a cache.Layer that wraps a slower layer (typically
// Redis) and defers its writes: Set and Delete put the write in a queue and
// return at once, and one goroutine writes the queue to the inner layer in
// batches.
//
// # Durability
//
// Write-behind trades durability and visibility for write latency:
//
//   - A write that Set or Delete accepted is not yet in the inner layer. If
//     the process crashes, or is killed before Close finishes, every write
//     still queued is lost.
//   - Readers in this process see their own writes at once (Get, GetMany
//     and Scan answer from the queue first). Readers in other processes
//     that share the inner layer see a write only after it has been
//     flushed, normally within Options.FlushInterval.
//   - A batch the inner layer keeps rejecting is retried
//     Options.MaxRetries times and then dropped. Dropped writes are never
//     silent: they are counted in Stats().Dropped, passed to
//     Options.OnError, and returned by the Flush or Close that dropped them,
//     wrapped in ErrDropped. After a drop, reads of those keys are answered
//     by the inner layer again, which still holds the older state.
//
// # Flushing
//
// The queue holds at most one write per key: a later Set of a key replaces
// the queued one, and a Delete after a Set cancels the Set (the Delete is
// queued instead, since the inner layer may hold an older value). The
// queue keeps the position of a key's first queued write, so a key written
// over and over is not starved.
//
// The flusher writes a batch (inner.SetMany for the sets, inner.DeleteMany
// for the deletes) when Options.BatchSize writes are queued, writes
// everything queued every Options.FlushInterval, and writes everything when
// Flush or Close is called. It writes one batch at a time, so writes of
// one key reach the inner layer in the order they were made. When
// Options.MaxPending writes are queued or being written, Set and Delete
// wait for room or fail, as Options.OnFull says.
//
// # Concurrency and ownership
//
// A Layer is safe for concurrent use. New starts the flusher goroutine;
// Close stops it. Set keeps the Entry it is given (Value, Payload and Tags)
// until the write is flushed, and Get may return it to other callers, so
// neither the writer nor a reader may mutate it; the Stack never does.
// Errors of the inner layer's reads are returned unchanged. A panic in the
// inner layer's SetMany or DeleteMany, or in Options.OnError, happens on
// the flusher goroutine and is not recovered.
//
// # Close
//
// Close stops accepting operations (they return ErrClosed), flushes every
// queued write, retrying as usual, and then closes the inner layer, which
// the Layer owns. Flushing is bounded by Options.CloseTimeout: when it
// elapses, the write in progress is cancelled through its context and
// whatever is left is dropped (and reported as above, with an error that
// wraps ErrCloseTimeout). An inner layer that ignores its context can keep
// Close waiting longer.
package writebehind
