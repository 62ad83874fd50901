package disk

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Layout under Options.Dir: the lock file LOCK and up to 256 shard
// directories "00".."ff", named by the first byte of the file ID and created
// by the first write into them, each holding record files "<32 hex digits>.rec"
// and, while a write is in flight, temporary files ".tmp-*".
const (
	shardCount = 256
	recordExt  = ".rec"
	tempPrefix = ".tmp-"
	lockName   = "LOCK"
	dirMode    = 0o700
	fileMode   = 0o600
)

// recordNameLen is the length of a record file's name.
const recordNameLen = 2*len(fileID{}) + len(recordExt)

func shardName(shard int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[shard>>4], digits[shard&0xf]})
}

func (l *Layer) shardDir(shard int) string {
	return filepath.Join(l.dir, shardName(shard))
}

// path returns the record file of id.
func (l *Layer) path(id fileID) string {
	var name [recordNameLen]byte
	hex.Encode(name[:], id[:])
	copy(name[2*len(id):], recordExt)
	return filepath.Join(l.dir, shardName(int(id[0])), string(name[:]))
}

// parseRecordName returns the file ID a record file name encodes.
func parseRecordName(name string) (fileID, bool) {
	var id fileID
	if len(name) != recordNameLen || !strings.HasSuffix(name, recordExt) {
		return id, false
	}
	hexPart := name[:2*len(id)]
	if strings.ToLower(hexPart) != hexPart {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(hexPart)); err != nil {
		return id, false
	}
	return id, true
}

// writeAtomic replaces path's content with b: it writes a temporary file in
// the same directory and renames it over path, so a crash of the process
// leaves either the old record or the new one, never a torn one. A leftover
// temporary file is removed by the next New.
//
// With sync, it fsyncs the file before the rename and the directory after
// it (and the parent of a directory it had to create), so the new record
// survives a power loss once writeAtomic returns. Without sync, a power loss
// can leave a truncated file, whose checksum then fails (a miss), or undo
// the rename; the layer fsyncs changed directories at Close and Clear (see
// markDirty).
func writeAtomic(path string, b []byte, sync bool) error {
	dir := filepath.Dir(path)
	created := false
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if errors.Is(err, fs.ErrNotExist) {
		// First write into this shard (or its directory was removed).
		if err = os.MkdirAll(dir, dirMode); err == nil {
			created = true
			f, err = os.CreateTemp(dir, tempPrefix+"*")
		}
	}
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_, _ = removeFile(tmp) // best effort; New removes leftovers
		return err
	}
	if sync {
		if err := syncDir(dir); err != nil {
			return err
		}
		if created {
			return syncDir(filepath.Dir(dir))
		}
	}
	return nil
}

// readRecord reads the file at path. It returns the file's info (for
// os.SameFile) and errTooBig, without reading, when the file is longer than
// limit bytes.
func readRecord(path string, limit int64) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = f.Close() }() // read only: a close error loses nothing
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := fi.Size()
	if size > limit {
		return nil, fi, errTooBig
	}
	// Read one byte more than the size so that a file that grew since Stat
	// is noticed rather than silently truncated.
	b := make([]byte, size+1)
	n, err := io.ReadFull(f, b)
	switch {
	case err == nil:
		return nil, fi, corruptf("record file grew while being read")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return b[:n], fi, nil
	default:
		return nil, fi, err
	}
}

// errTooBig reports a record file longer than any valid record.
var errTooBig = corruptf("record file exceeds the size limit")

// removeFile removes path and reports whether it existed; a file that is
// already gone is not an error.
func removeFile(path string) (bool, error) {
	err := os.Remove(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// syncDir fsyncs a directory so that renames and removals in it survive a
// power loss. A directory that no longer exists has nothing to sync.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
