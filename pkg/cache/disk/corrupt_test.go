package disk

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fileOf returns the record file of key.
func fileOf(l *Layer, key string) string { return l.path(l.prot.fileID(key)) }

func mutate(t *testing.T, path string, fn func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), fileMode); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestCorruptRecordIsMissCountedAndRemoved(t *testing.T) {
	tests := []struct {
		name string
		fn   func([]byte) []byte
	}{
		{"flipped payload byte", func(b []byte) []byte { b[len(b)-10] ^= 0x40; return b }},
		{"flipped key byte", func(b []byte) []byte { b[headerLen+metaFixedLen] ^= 0x01; return b }},
		{"flipped header byte", func(b []byte) []byte { b[5] = 1; return b }},
		{"truncated body", func(b []byte) []byte { return b[:len(b)-3] }},
		{"truncated to header", func(b []byte) []byte { return b[:headerLen] }},
		{"empty", func([]byte) []byte { return nil }},
		{"appended bytes", func(b []byte) []byte { return append(b, "more"...) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			l := open(t, Options{})
			set(t, l, "k", entryAt(now, "some value"))
			set(t, l, "other", entryAt(now, "intact"))
			path := fileOf(l, "k")
			mutate(t, path, tc.fn)
			if v, ok := get(t, l, "k"); ok {
				t.Fatalf("Get(k) of a corrupt record = %q, want a miss", v)
			}
			if got := l.CorruptEntries(); got != 1 {
				t.Errorf("CorruptEntries = %d, want 1", got)
			}
			if exists(t, path) {
				t.Error("corrupt record file was not removed")
			}
			if got, want := keys(t, l), []string{"other"}; !slices.Equal(got, want) {
				t.Errorf("keys = %v, want %v", got, want)
			}
			if v, ok := get(t, l, "other"); !ok || v != "intact" {
				t.Errorf("Get(other) = %q, %v; want intact, true", v, ok)
			}
		})
	}
}

func TestCorruptRecordsRemovedAtStartup(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	for _, k := range []string{"flipped", "truncated", "misplaced", "good"} {
		set(t, l, k, entryAt(now, "value of "+k))
	}
	mutate(t, fileOf(l, "flipped"), func(b []byte) []byte { b[headerLen+2] ^= 0xff; return b })
	mutate(t, fileOf(l, "truncated"), func(b []byte) []byte { return b[:headerLen+4] })
	// A valid record under another key's file name.
	misplaced := fileOf(l, "misplaced")
	stolen := fileOf(l, "never-set")
	if err := os.MkdirAll(filepath.Dir(stolen), dirMode); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(misplaced, stolen); err != nil {
		t.Fatal(err)
	}
	garbage := l.path(fileID{0xab, 1, 2, 3})
	if err := os.MkdirAll(filepath.Dir(garbage), dirMode); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(garbage, []byte("not a record at all"), fileMode); err != nil {
		t.Fatal(err)
	}

	l = reopen(t, l, Options{})
	if got, want := keys(t, l), []string{"good"}; !slices.Equal(got, want) {
		t.Errorf("keys after restart = %v, want %v", got, want)
	}
	if got := l.CorruptEntries(); got != 4 {
		t.Errorf("CorruptEntries = %d, want 4", got)
	}
	if got := recordFiles(t, l.dir); len(got) != 1 {
		t.Errorf("record files after restart = %v, want only good's", got)
	}
}

func TestTornTempFilesCleanedAtStartup(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	set(t, l, "k", entryAt(now, "old"))
	shard := filepath.Dir(fileOf(l, "k"))
	torn := filepath.Join(shard, tempPrefix+"123456")
	// A crash after writing half of a new record for k.
	rec, err := os.ReadFile(fileOf(l, "k"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(torn, rec[:len(rec)/2], fileMode); err != nil {
		t.Fatal(err)
	}
	pingLeft := filepath.Join(l.dir, tempPrefix+"ping-1")
	if err := os.WriteFile(pingLeft, []byte{0}, fileMode); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(shard, "README")
	if err := os.WriteFile(foreign, []byte("not ours"), fileMode); err != nil {
		t.Fatal(err)
	}

	l = reopen(t, l, Options{})
	if exists(t, torn) || exists(t, pingLeft) {
		t.Error("temporary files left by a crash survived New")
	}
	if !exists(t, foreign) {
		t.Error("New removed a file that is not a record")
	}
	if v, ok := get(t, l, "k"); !ok || v != "old" {
		t.Errorf("Get(k) = %q, %v; want the old record", v, ok)
	}
	if l.CorruptEntries() != 0 {
		t.Errorf("CorruptEntries = %d, want 0", l.CorruptEntries())
	}
}

// denyReads makes path unreadable, or skips the test when the process can
// read it anyway (root ignores file modes).
func denyReads(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Chmod(path, fileMode); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Error(err)
		}
	})
	if f, err := os.Open(path); err == nil {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		t.Skip("chmod 000 does not deny reads to this process (running as root?): cannot provoke a permission error")
	}
}

func TestPermissionErrorKeepsFile(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	set(t, l, "k", entryAt(now, "v"))
	path := fileOf(l, "k")
	denyReads(t, path)

	_, _, err := l.Get(context.Background(), "k")
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Get of an unreadable record = %v, want an error wrapping fs.ErrPermission", err)
	}
	if !exists(t, path) || l.CorruptEntries() != 0 {
		t.Errorf("after a permission error: file exists %v, CorruptEntries %d; want true, 0", exists(t, path), l.CorruptEntries())
	}
}

func TestPermissionErrorAtStartupKeepsFile(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	set(t, l, "k", entryAt(now, "v"))
	set(t, l, "j", entryAt(now, "w"))
	path := fileOf(l, "k")
	denyReads(t, path)

	l = reopen(t, l, Options{})
	if !exists(t, path) || l.CorruptEntries() != 0 {
		t.Errorf("after New met an unreadable record: file exists %v, CorruptEntries %d; want true, 0", exists(t, path), l.CorruptEntries())
	}
	if got, want := keys(t, l), []string{"j"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v (the unreadable record is not indexed)", got, want)
	}
	// Delete still removes it, so the key cannot come back.
	if err := l.Delete(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if exists(t, path) {
		t.Error("Delete left the unreadable record in place")
	}
}

func TestHashCollisionIsMiss(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	set(t, l, "a", entryAt(now, "A"))
	// Simulate a collision: the index believes a's file holds "b".
	l.mu.Lock()
	l.idx.get(l.prot.fileID("a")).key = "b"
	l.mu.Unlock()
	if _, ok := get(t, l, "a"); ok {
		t.Error("Get(a) found an entry the index holds for another key")
	}
	if !exists(t, fileOf(l, "a")) {
		t.Error("a miss on a colliding key removed the other key's record")
	}
}

func TestRecordOfAnotherKeyIsMissAndRemoved(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	set(t, l, "a", entryAt(now, "A"))
	set(t, l, "b", entryAt(now, "B"))
	if err := os.Rename(fileOf(l, "b"), fileOf(l, "a")); err != nil {
		t.Fatal(err)
	}
	if v, ok := get(t, l, "a"); ok {
		t.Errorf("Get(a) = %q from b's record, want a miss", v)
	}
	if l.CorruptEntries() != 1 || exists(t, fileOf(l, "a")) {
		t.Errorf("misplaced record: CorruptEntries %d, file exists %v; want 1, false", l.CorruptEntries(), exists(t, fileOf(l, "a")))
	}
}
