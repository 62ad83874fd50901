package disk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/layercache/layercache/pkg/cache"
)

// Layer is the local-disk cache.Layer: one file per entry under a directory,
// with an in-memory index that bounds it by entries and bytes. Create it with
// New. It is safe for concurrent use.
type Layer struct {
	name          string
	dir           string
	maxBytes      int64
	maxEntries    int
	maxValueBytes int
	maxRecord     int64 // longest valid record file
	clock         cache.Clock
	prot          *protector
	lock          *os.File // holds the flock on Dir/LOCK until Close
	sync          bool     // fsync each record (Options.Sync)

	// stripes serialise the file operations (write, rename, remove) on
	// records whose file ID starts with the stripe's byte, so that the
	// index and the files change together. A stripe is always taken before
	// mu, and never while holding another stripe (except in Clear and
	// Close, which take all of them in order).
	stripes [shardCount]sync.Mutex

	mu  sync.Mutex // protects idx; never held across file I/O
	idx *index

	dirty   [shardCount]atomic.Bool // shard directories changed since their last fsync
	closed  atomic.Bool
	corrupt atomic.Uint64
}

var _ cache.Layer = (*Layer)(nil)

// New opens (creating it when missing) the directory opts.Dir, locks it,
// removes temporary files left by a crash, and rebuilds the index by reading
// the header of every record (see the package doc for what happens to
// corrupt, unreadable and expired records). It then evicts records until the
// bounds hold. Invalid options yield an error naming the field.
func New(opts Options) (*Layer, error) {
	s, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	prot, err := newProtector(s.encryptionKey, s.signingKey)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dir, dirMode); err != nil {
		return nil, fmt.Errorf("disk layer: create %s: %w", s.dir, err)
	}
	lock, err := lockDir(filepath.Join(s.dir, lockName))
	if errors.Is(err, ErrDirInUse) {
		return nil, fmt.Errorf("%w: %s", ErrDirInUse, s.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("disk layer: lock %s: %w", s.dir, err)
	}
	l := &Layer{
		name:          s.name,
		dir:           s.dir,
		maxBytes:      s.maxBytes,
		maxEntries:    s.maxEntries,
		sync:          s.sync,
		maxValueBytes: s.maxValueBytes,
		maxRecord:     prot.maxRecordLen(s.maxValueBytes),
		clock:         s.clock,
		prot:          prot,
		lock:          lock,
		idx:           newIndex(),
	}
	if err := l.load(); err != nil {
		return nil, errors.Join(err, lock.Close())
	}
	return l, nil
}

// Info reports the layer's name; it is neither shared nor a value layer (it
// stores Entry.Payload).
func (l *Layer) Info() cache.LayerInfo {
	return cache.LayerInfo{Name: l.name}
}

// CorruptEntries returns how many records were found corrupt (bad checksum,
// failed authentication, wrong format or misplaced) and removed since New,
// including those found by New itself.
func (l *Layer) CorruptEntries() uint64 { return l.corrupt.Load() }

func (l *Layer) now() int64 { return l.clock.NowNano() }

// check returns ErrClosed after Close, else ctx's error wrapped with the
// operation and its key (or prefix).
func (l *Layer) check(ctx context.Context, op, key string) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return opError(op, key, err)
	}
	return nil
}

// opError wraps err with the operation and, when not empty, its key.
func opError(op, key string, err error) error {
	if key == "" {
		return fmt.Errorf("disk layer: %s: %w", op, err)
	}
	return fmt.Errorf("disk layer: %s %q: %w", op, key, err)
}

// Get returns the entry stored under key. A missing, expired, corrupt or
// misplaced record is a miss (found == false, err == nil); corrupt records
// are counted and removed. An I/O error, such as a permission error, is
// returned and leaves the file in place. The returned Payload is owned by the
// caller. Get does not block on writes to other keys.
func (l *Layer) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	if err := l.check(ctx, "get", key); err != nil {
		return cache.Entry{}, false, err
	}
	id := l.prot.fileID(key)
	now := l.now()
	l.mu.Lock()
	n := l.idx.get(id)
	if n == nil || n.key != key {
		l.mu.Unlock()
		return cache.Entry{}, false, nil
	}
	seq := n.seq
	if n.expired(now) {
		l.mu.Unlock()
		l.removeExpired(id, seq)
		return cache.Entry{}, false, nil
	}
	l.idx.touch(n)
	l.mu.Unlock()

	b, fi, err := readRecord(l.path(id), l.maxRecord)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Removed by a concurrent Delete, eviction or Clear, or by hand.
		l.mu.Lock()
		l.idx.removeIfCurrent(id, seq)
		l.mu.Unlock()
		return cache.Entry{}, false, nil
	case errors.Is(err, cache.ErrCorrupt):
		l.discardCorrupt(id, seq, fi)
		return cache.Entry{}, false, nil
	case err != nil:
		return cache.Entry{}, false, opError("get", key, err)
	}
	stored, e, err := l.prot.decodeRecord(b)
	if err != nil {
		l.discardCorrupt(id, seq, fi)
		return cache.Entry{}, false, nil
	}
	if stored != key {
		if l.prot.fileID(stored) != id {
			l.discardCorrupt(id, seq, fi) // a record under another key's name
		}
		// Otherwise a hash collision: the file belongs to the other key.
		return cache.Entry{}, false, nil
	}
	if exp := e.ExpiresAt(); exp != 0 && exp <= now {
		return cache.Entry{}, false, nil
	}
	return e, true, nil
}

// GetMany returns the entries for keys, in order; it stops at the first
// error.
func (l *Layer) GetMany(ctx context.Context, keys []string) ([]cache.Entry, []bool, error) {
	entries := make([]cache.Entry, len(keys))
	found := make([]bool, len(keys))
	for i, k := range keys {
		var err error
		if entries[i], found[i], err = l.Get(ctx, k); err != nil {
			return nil, nil, err
		}
	}
	return entries, found, nil
}

// Set stores e under key: it writes the record to a temporary file, fsyncs
// it and renames it over the key's file, then evicts records while the layer
// is over its bounds. An entry that has already expired is not written (any
// older record is deleted). Entries whose envelope exceeds
// Options.MaxValueBytes, or whose record (the envelope, the key and a few
// dozen bytes of header and checksums) exceeds Options.MaxBytes, are
// rejected with an error wrapping cache.ErrTooLarge, and the key's older
// record is deleted; invalid keys and tags are rejected with an error
// wrapping cache.ErrInvalidKey. Set does not retain e.
func (l *Layer) Set(ctx context.Context, key string, e cache.Entry) error {
	if err := l.check(ctx, "set", key); err != nil {
		return err
	}
	if err := l.checkEntry(key, &e); err != nil {
		return l.rejected(ctx, key, err)
	}
	expiresAt := e.ExpiresAt()
	if expiresAt != 0 && expiresAt <= l.now() {
		return l.Delete(ctx, key)
	}
	rec := l.prot.encodeRecord(key, &e, expiresAt)
	if int64(len(rec)) > l.maxBytes {
		// The entry fits MaxValueBytes, but not with the record's own
		// bytes (header, key, checksums): storing it would evict every
		// record, itself included.
		return l.rejected(ctx, key, fmt.Errorf("entry's record is %d bytes, Options.MaxBytes is %d: %w", len(rec), l.maxBytes, cache.ErrTooLarge))
	}
	id := l.prot.fileID(key)

	st := &l.stripes[id[0]]
	st.Lock()
	if l.closed.Load() {
		st.Unlock()
		return ErrClosed
	}
	if err := writeAtomic(l.path(id), rec, l.sync); err != nil {
		st.Unlock()
		return opError("set", key, err)
	}
	l.dirty[id[0]].Store(true)
	l.mu.Lock()
	l.idx.put(id, key, int64(len(rec)), expiresAt)
	victims := l.idx.evict(l.maxEntries, l.maxBytes, l.now())
	l.mu.Unlock()
	st.Unlock()

	l.removeEvicted(victims)
	return nil
}

// rejected returns the error of a Set that stores nothing. An entry too
// large to store also removes the key's older record: the caller replaced
// the value, and serving the one it replaced would be wrong.
func (l *Layer) rejected(ctx context.Context, key string, err error) error {
	if errors.Is(err, cache.ErrTooLarge) {
		if derr := l.Delete(ctx, key); derr != nil {
			return opError("set", key, errors.Join(err, derr))
		}
	}
	return opError("set", key, err)
}

// checkEntry rejects what the envelope decoder would later reject, so that
// every record written can be read back.
func (l *Layer) checkEntry(key string, e *cache.Entry) error {
	if err := cache.ValidateKey(key); err != nil {
		return err
	}
	if len(e.Tags) > cache.MaxTags {
		return fmt.Errorf("%w: %d tags, at most %d are allowed", cache.ErrInvalidKey, len(e.Tags), cache.MaxTags)
	}
	for _, t := range e.Tags {
		if err := cache.ValidateTag(t); err != nil {
			return err
		}
	}
	if e.FreshUntil < 0 || (e.FreshUntil > 0 &&
		((e.StaleUntil != 0 && e.StaleUntil < e.FreshUntil) || (e.ErrorUntil != 0 && e.ErrorUntil < e.FreshUntil))) {
		return fmt.Errorf("invalid deadlines fresh=%d stale=%d error=%d", e.FreshUntil, e.StaleUntil, e.ErrorUntil)
	}
	if n := cache.EntrySize(e); n > l.maxValueBytes {
		return fmt.Errorf("entry is %d bytes, Options.MaxValueBytes is %d: %w", n, l.maxValueBytes, cache.ErrTooLarge)
	}
	return nil
}

// SetMany stores every item. It is not atomic: it writes each item as Set
// does, goes on past failures and returns them joined.
func (l *Layer) SetMany(ctx context.Context, items []cache.Item) error {
	var errs []error
	for _, it := range items {
		if err := l.Set(ctx, it.Key, it.Entry); err != nil {
			if l.closed.Load() || ctx.Err() != nil {
				return errors.Join(append(errs, err)...)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Delete removes key's record. Deleting a missing key is not an error.
func (l *Layer) Delete(ctx context.Context, key string) error {
	if err := l.check(ctx, "delete", key); err != nil {
		return err
	}
	id := l.prot.fileID(key)
	st := &l.stripes[id[0]]
	st.Lock()
	defer st.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	l.mu.Lock()
	n := l.idx.get(id)
	if n != nil && n.key != key {
		// A hash collision: the file holds another key's record.
		l.mu.Unlock()
		return nil
	}
	if n != nil {
		l.idx.remove(n)
	}
	l.mu.Unlock()
	// Remove the file even when the index does not know it (for example a
	// record New could not read), so a deleted key cannot come back.
	removed, err := removeFile(l.path(id))
	if err != nil {
		return opError("delete", key, err)
	}
	if removed {
		l.dirty[id[0]].Store(true)
	}
	return nil
}

// DeleteMany removes every key, goes on past failures and returns them
// joined.
func (l *Layer) DeleteMany(ctx context.Context, keys []string) error {
	var errs []error
	for _, k := range keys {
		if err := l.Delete(ctx, k); err != nil {
			if l.closed.Load() || ctx.Err() != nil {
				return errors.Join(append(errs, err)...)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Scan calls fn for every unexpired key that starts with prefix, in most
// recently used order, until fn returns false. It reads a snapshot of the
// in-memory index, never the directory, and does not hold a lock while fn
// runs (fn may call the layer).
func (l *Layer) Scan(ctx context.Context, prefix string, fn func(key string) bool) error {
	if err := l.check(ctx, "scan", prefix); err != nil {
		return err
	}
	now := l.now()
	l.mu.Lock()
	keys := l.idx.keys(prefix, now)
	l.mu.Unlock()
	for i, k := range keys {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return opError("scan", prefix, err)
			}
		}
		if !fn(k) {
			break
		}
	}
	return nil
}

// Ping reports whether the directory is writable, by creating and removing
// a temporary file in it.
func (l *Layer) Ping(ctx context.Context) error {
	if err := l.check(ctx, "ping", ""); err != nil {
		return err
	}
	f, err := os.CreateTemp(l.dir, tempPrefix+"ping-*")
	if err != nil {
		return opError("ping", "", err)
	}
	_, err = f.Write([]byte{0})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	if err != nil {
		return opError("ping", "", err)
	}
	return nil
}

// Close waits for writes in flight, fsyncs the shard directories changed
// since New (so that every rename and removal done before Close survives a
// power loss), empties the in-memory index and releases the directory lock.
// Records stay on disk for the next New. Later calls return ErrClosed;
// closing twice is not an error.
func (l *Layer) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	for i := range l.stripes {
		l.stripes[i].Lock()
	}
	errs := []error{l.syncDirty()}
	l.mu.Lock()
	l.idx.reset()
	l.mu.Unlock()
	for i := range l.stripes {
		l.stripes[i].Unlock()
	}
	if err := l.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("disk layer: close: release lock: %w", err))
	}
	return errors.Join(errs...)
}

// syncDirty fsyncs every shard directory marked dirty.
func (l *Layer) syncDirty() error {
	var errs []error
	for i := range l.dirty {
		if !l.dirty[i].Swap(false) {
			continue
		}
		if err := syncDir(l.shardDir(i)); err != nil {
			errs = append(errs, fmt.Errorf("disk layer: %w", err))
		}
	}
	return errors.Join(errs...)
}
