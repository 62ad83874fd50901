package disk

import (
	"io/fs"
	"os"
)

// Records leave the layer through Delete, Clear and the three paths below.
// Each one changes a file only under its stripe lock and re-checks the index
// there, because between dropping the index lock and taking the stripe a
// concurrent Set may have written a new record under the same name.

// removeEvicted deletes the files of nodes that Set or New took out of the
// index. A file whose name is back in the index was rewritten by a later Set
// and is kept. A failed removal leaves a file the index no longer counts; the
// next New indexes it again (and evicts it if the bounds require).
func (l *Layer) removeEvicted(victims []*node) {
	for _, v := range victims {
		st := &l.stripes[v.id[0]]
		st.Lock()
		l.mu.Lock()
		rewritten := l.idx.get(v.id) != nil
		l.mu.Unlock()
		if !rewritten && !l.closed.Load() {
			if removed, _ := removeFile(l.path(v.id)); removed {
				l.dirty[v.id[0]].Store(true)
			}
		}
		st.Unlock()
	}
}

// removeExpired drops an expired record found by Get, unless it has been
// replaced (a different seq) since.
func (l *Layer) removeExpired(id fileID, seq uint64) {
	st := &l.stripes[id[0]]
	st.Lock()
	defer st.Unlock()
	if l.closed.Load() {
		return
	}
	l.mu.Lock()
	current := l.idx.removeIfCurrent(id, seq)
	l.mu.Unlock()
	if !current {
		return
	}
	if removed, _ := removeFile(l.path(id)); removed {
		l.dirty[id[0]].Store(true)
	}
}

// discardCorrupt counts a corrupt record that Get read from the file
// described by read, and removes that file if it is still the one under the
// record's name (a concurrent Set may have replaced it with a good record,
// which must survive). Only corrupt content reaches here: I/O errors never
// remove a file.
func (l *Layer) discardCorrupt(id fileID, seq uint64, read fs.FileInfo) {
	l.corrupt.Add(1)
	st := &l.stripes[id[0]]
	st.Lock()
	defer st.Unlock()
	if l.closed.Load() {
		return
	}
	path := l.path(id)
	cur, err := os.Lstat(path)
	if err != nil || read == nil || !os.SameFile(cur, read) {
		l.mu.Lock()
		l.idx.removeIfCurrent(id, seq)
		l.mu.Unlock()
		return
	}
	// The corrupt file is the current one: whatever node the index holds
	// for this name describes it.
	l.mu.Lock()
	if n := l.idx.get(id); n != nil {
		l.idx.remove(n)
	}
	l.mu.Unlock()
	if removed, _ := removeFile(path); removed {
		l.dirty[id[0]].Store(true)
	}
}
