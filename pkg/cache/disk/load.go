package disk

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// loadWorkers is how many goroutines New uses to read record headers. They
// all return before New does.
const loadWorkers = 4

// found is a record New read from disk.
type found struct {
	id        fileID
	key       string
	size      int64
	expiresAt int64
	mtime     int64 // Unix nanoseconds; orders the rebuilt LRU list
}

// verdict is what New does with one file.
type verdict uint8

const (
	keep       verdict = iota // index it
	corrupt                   // count it and remove it
	expired                   // remove it
	unreadable                // leave it alone and do not index it
	gone                      // removed while New ran
)

// load rebuilds the index from the shard directories: it removes temporary
// files, indexes valid records in last-modified order (oldest least recently
// used), removes corrupt and expired ones, leaves unreadable ones alone, and
// finally evicts until the bounds hold.
func (l *Layer) load() error {
	if err := removeTemps(l.dir); err != nil {
		return fmt.Errorf("disk layer: load %s: %w", l.dir, err)
	}
	now := l.now()
	var (
		next    atomic.Int32
		wg      sync.WaitGroup
		results [loadWorkers][]found
		errs    [loadWorkers]error
	)
	for w := range loadWorkers {
		wg.Go(func() {
			buf := make([]byte, l.prot.maxHeadLen())
			for {
				shard := int(next.Add(1) - 1)
				if shard >= shardCount {
					return
				}
				recs, err := l.loadShard(shard, now, buf)
				if err != nil {
					errs[w] = err
					return
				}
				results[w] = append(results[w], recs...)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	all := slices.Concat(results[:]...)
	slices.SortFunc(all, func(a, b found) int { return cmp.Compare(a.mtime, b.mtime) })
	for _, r := range all {
		l.idx.put(r.id, r.key, r.size, r.expiresAt)
	}
	for _, v := range l.idx.evict(l.maxEntries, l.maxBytes, now) {
		if _, err := removeFile(l.path(v.id)); err != nil {
			return fmt.Errorf("disk layer: load: evict: %w", err)
		}
		l.dirty[v.id[0]].Store(true)
	}
	return nil
}

// loadShard inspects the files of one shard directory. Shard directories are
// created by the first write into them.
func (l *Layer) loadShard(shard int, now int64, buf []byte) ([]found, error) {
	dir := l.shardDir(shard)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("disk layer: load: %w", err)
	}
	var recs []found
	for _, de := range entries {
		name := de.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, tempPrefix) {
			// A write that a crash interrupted; the old record, if any,
			// is intact.
			if _, err := removeFile(path); err != nil {
				return nil, fmt.Errorf("disk layer: load: remove temporary file: %w", err)
			}
			l.dirty[shard].Store(true)
			continue
		}
		id, ok := parseRecordName(name)
		if !ok {
			continue // not ours
		}
		r, v := l.inspect(path, id, shard, now, buf)
		switch v {
		case keep:
			recs = append(recs, r)
		case corrupt, expired:
			if v == corrupt {
				l.corrupt.Add(1)
			}
			if _, err := removeFile(path); err != nil {
				return nil, fmt.Errorf("disk layer: load: remove %s record: %w", v, err)
			}
			l.dirty[shard].Store(true)
		}
	}
	return recs, nil
}

// inspect reads the header and meta section of one record file.
func (l *Layer) inspect(path string, id fileID, shard int, now int64, buf []byte) (found, verdict) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return found{}, gone
	}
	if err != nil {
		return found{}, unreadable
	}
	defer func() { _ = f.Close() }() // read only: a close error loses nothing
	fi, err := f.Stat()
	if err != nil {
		return found{}, unreadable
	}
	if !fi.Mode().IsRegular() {
		return found{}, unreadable
	}
	size := fi.Size()
	if int(id[0]) != shard || size > l.maxRecord {
		return found{}, corrupt
	}
	n, err := io.ReadFull(f, buf[:min(size, int64(len(buf)))])
	if err != nil {
		return found{}, unreadable
	}
	m, bodyStart, err := l.prot.decodeMeta(buf[:n])
	if err != nil || size-int64(bodyStart) < int64(minEnvelopeLen+l.prot.overhead()) ||
		l.prot.fileID(m.key) != id {
		return found{}, corrupt
	}
	if m.expiresAt != 0 && m.expiresAt <= now {
		return found{}, expired
	}
	return found{id: id, key: m.key, size: size, expiresAt: m.expiresAt, mtime: fi.ModTime().UnixNano()}, keep
}

// removeTemps removes temporary files Ping left in dir.
func removeTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range entries {
		if strings.HasPrefix(de.Name(), tempPrefix) {
			if _, err := removeFile(filepath.Join(dir, de.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func (v verdict) String() string {
	switch v {
	case keep:
		return "valid"
	case corrupt:
		return "corrupt"
	case expired:
		return "expired"
	case unreadable:
		return "unreadable"
	default:
		return "vanished"
	}
}
