package disk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

var benchModes = []struct {
	name string
	opts Options
}{
	{"plain", Options{}},
	{"signed", Options{SigningKey: signKeyA}},
	{"encrypted", Options{EncryptionKey: encKeyA}},
}

const benchKeys = 1000

func benchEntry(size int) cache.Entry {
	return cache.Entry{Payload: make([]byte, size), FreshUntil: time.Now().Add(time.Hour).UnixNano(), Tags: []string{"bench"}}
}

func BenchmarkGet(b *testing.B) {
	for _, m := range benchModes {
		for _, size := range []int{1 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("%s/%dKiB", m.name, size>>10), func(b *testing.B) {
				l := open(b, m.opts)
				ctx := context.Background()
				e := benchEntry(size)
				for i := range benchKeys {
					set(b, l, fmt.Sprintf("user:%d", i), e)
				}
				names := make([]string, benchKeys)
				for i := range names {
					names[i] = fmt.Sprintf("user:%d", i)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, ok, err := l.Get(ctx, names[i%benchKeys]); err != nil || !ok {
						b.Fatalf("Get: %v, found %v", err, ok)
					}
					i++
				}
			})
		}
	}
}

func BenchmarkSet(b *testing.B) {
	for _, m := range benchModes {
		for _, size := range []int{1 << 10, 64 << 10} {
			b.Run(fmt.Sprintf("%s/%dKiB", m.name, size>>10), func(b *testing.B) {
				l := open(b, m.opts)
				ctx := context.Background()
				e := benchEntry(size)
				names := make([]string, benchKeys)
				for i := range names {
					names[i] = fmt.Sprintf("user:%d", i)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if err := l.Set(ctx, names[i%benchKeys], e); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkSetParallel shows that writers of different keys overlap their
// fsyncs.
func BenchmarkSetParallel(b *testing.B) {
	l := open(b, Options{})
	ctx := context.Background()
	e := benchEntry(1 << 10)
	b.SetParallelism(4)
	b.SetBytes(1 << 10)
	b.ReportAllocs()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := fmt.Sprintf("user:%d", n.Add(1)%benchKeys)
			if err := l.Set(ctx, k, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkNew measures rebuilding the index from 10,000 records of 1 KiB.
func BenchmarkNew(b *testing.B) {
	dir := b.TempDir()
	p, err := newProtector(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	l := &Layer{dir: dir, prot: p}
	e := benchEntry(1 << 10)
	for i := range 10_000 {
		key := fmt.Sprintf("user:%d", i)
		path := l.path(p.fileID(key))
		if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(path, p.encodeRecord(key, &e, e.ExpiresAt()), fileMode); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		l, err := New(Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if l.idx.len() != 10_000 {
			b.Fatalf("indexed %d records, want 10000", l.idx.len())
		}
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
