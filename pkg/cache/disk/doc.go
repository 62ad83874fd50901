// Package disk is the local-disk cache layer (L3): one file per entry under a
// directory, bounded by entries and bytes through an in-memory index.
//
//	l, err := disk.New(disk.Options{Dir: "/var/cache/app", MaxBytes: 4 << 30})
//
// # Storage
//
// A key is never turned into a path: the file of key k is
// Dir/<xx>/<32 hex digits>.rec, the first 128 bits of SHA-256(k) (of
// HMAC-SHA256 under a derived key when Options.EncryptionKey or SigningKey is
// set, so that names reveal nothing), sharded into 256 directories by its
// first byte. Each record stores its key, so Scan can report keys and a hash
// collision is a miss, not a wrong value. Records hold the entry as the
// cache.AppendEntry envelope; docs/adr/0001-disk-layer-storage.md records
// why this layout was chosen over an embedded store.
//
// # Bounds and eviction
//
// New builds an index (file ID → key, size, expiry, recency) by reading only
// the header of every record once; Set, Delete, eviction and Clear keep it up
// to date, and Scan reads it, so no operation after New lists the directory
// (except Clear). When a Set takes the layer over Options.MaxEntries or
// Options.MaxBytes (file sizes), records are evicted in this order until both
// bounds hold: expired records first, earliest deadline first; then the least
// recently used, where a Get hit or a Set counts as a use. After a restart,
// recency is rebuilt from the files' modification times (the time of their
// last Set).
//
// # Expiry
//
// An expired record is never returned. Get removes the expired record it
// meets, eviction removes expired records before live ones, and New removes
// every expired record it finds.
//
// # Crash safety
//
// Set writes a temporary file in the record's shard directory and renames
// it over the record, so a crash leaves the old record or the new one, never
// a torn one; New removes the temporary files a crash left. With
// Options.Sync, Set fsyncs the file before the rename and the shard
// directory after it, so a record it wrote survives a power loss. Without
// Sync, a record cut short by a power loss fails its checksum and is a miss,
// and shard directories are fsynced by Close and Clear, not after every
// write: after a power loss (not a mere process crash) the last renames and
// removals before it may be lost, which brings back the previous record of a
// key for at most its remaining lifetime. Removals (Delete, eviction) are
// not fsynced one by one even with Sync: a power loss right after one can
// bring the removed record back, for at most its remaining lifetime. Each record section carries a CRC-32C, an
// HMAC-SHA256 or an AES-GCM tag, and the envelope its own CRC-32C.
//
// # Corrupt and unreadable records
//
// A record whose content is invalid (bad checksum, failed authentication,
// a mode other than the layer's, such as plaintext when a key is set, a key
// that does not match the file name, or a size past the limit) is a miss: it
// is counted by CorruptEntries and its file is removed, by Get or by New. An
// I/O error is not corruption: Get returns it, and New skips the file
// without indexing it; neither removes the file. Delete and Clear still
// remove such files.
//
// # Concurrency
//
// A Layer is safe for concurrent use. The index is guarded by one mutex that
// is never held across file I/O; writes, renames and removals of a record are
// serialised by one of 256 stripe locks chosen by its file ID, so writers of
// different keys proceed in parallel and readers never wait for a write's
// fsync. One Layer at a time may use a directory: New locks Dir/LOCK (on Unix)
// and fails with ErrDirInUse otherwise. Operations check their context before
// they start; file I/O itself is not interruptible.
//
// # Close
//
// Close waits for writes in flight, fsyncs the shard directories changed
// since New, drops the index and releases the directory lock; records stay on
// disk for the next New. The layer starts no goroutine that outlives New.
package disk
