package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layertest"
)

// fakeClock is an injectable Options.Clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NowNano() int64 { return c.Now().UnixNano() }

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// open returns a layer on opts.Dir (a new temporary directory when empty),
// closed at the end of the test.
func open(t testing.TB, opts Options) *Layer {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	l, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

func reopen(t testing.TB, l *Layer, opts Options) *Layer {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	opts.Dir = l.dir
	return open(t, opts)
}

// entryAt builds an entry holding v that stays fresh for an hour after now.
func entryAt(now time.Time, v string) cache.Entry {
	return cache.Entry{Payload: []byte(v), FreshUntil: now.Add(time.Hour).UnixNano()}
}

func set(t testing.TB, l *Layer, key string, e cache.Entry) {
	t.Helper()
	if err := l.Set(context.Background(), key, e); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func get(t testing.TB, l *Layer, key string) (string, bool) {
	t.Helper()
	e, ok, err := l.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(e.Payload), ok
}

func keys(t testing.TB, l *Layer) []string {
	t.Helper()
	var out []string
	if err := l.Scan(context.Background(), "", func(k string) bool { out = append(out, k); return true }); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	slices.Sort(out)
	return out
}

// recordFiles lists the record files under dir.
func recordFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "??", "*"+recordExt))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestConformance(t *testing.T) {
	layertest.Run(t, func(t *testing.T) cache.Layer { return open(t, Options{}) })
}

func TestConformanceEncrypted(t *testing.T) {
	key := bytes.Repeat([]byte{7}, EncryptionKeySize)
	layertest.Run(t, func(t *testing.T) cache.Layer { return open(t, Options{EncryptionKey: key}) })
}

func TestConformanceSigned(t *testing.T) {
	key := bytes.Repeat([]byte{9}, MinSigningKeySize)
	layertest.Run(t, func(t *testing.T) cache.Layer { return open(t, Options{SigningKey: key}) })
}

func TestInfo(t *testing.T) {
	l := open(t, Options{Name: "l3"})
	if got, want := l.Info(), (cache.LayerInfo{Name: "l3"}); got != want {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
}

func TestRestartRebuildsIndex(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	set(t, l, "a", entryAt(now, "A"))
	set(t, l, "b", cache.Entry{Payload: []byte("B"), Tags: []string{"t"}})
	set(t, l, "neg", cache.Entry{Negative: true, FreshUntil: now.Add(time.Hour).UnixNano()})
	wantBytes := l.idx.bytes

	l = reopen(t, l, Options{})
	if got, want := keys(t, l), []string{"a", "b", "neg"}; !slices.Equal(got, want) {
		t.Fatalf("keys after restart = %v, want %v", got, want)
	}
	if l.idx.bytes != wantBytes {
		t.Errorf("indexed bytes after restart = %d, want %d", l.idx.bytes, wantBytes)
	}
	if v, ok := get(t, l, "a"); !ok || v != "A" {
		t.Errorf("Get(a) after restart = %q, %v; want A, true", v, ok)
	}
	e, ok, err := l.Get(context.Background(), "b")
	if err != nil || !ok || string(e.Payload) != "B" || !slices.Equal(e.Tags, []string{"t"}) {
		t.Errorf("Get(b) after restart = %+v, %v, %v", e, ok, err)
	}
	if e, ok, _ := l.Get(context.Background(), "neg"); !ok || !e.Negative {
		t.Errorf("Get(neg) after restart: negative %v, found %v", e.Negative, ok)
	}
}

func TestRestartDropsExpiredRecords(t *testing.T) {
	clock := newFakeClock()
	l := open(t, Options{Clock: clock})
	set(t, l, "short", cache.Entry{Payload: []byte("s"), FreshUntil: clock.Now().Add(time.Minute).UnixNano()})
	set(t, l, "long", entryAt(clock.Now(), "l"))
	clock.Advance(2 * time.Minute)
	l = reopen(t, l, Options{Clock: clock})
	if got, want := keys(t, l), []string{"long"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if n := len(recordFiles(t, l.dir)); n != 1 {
		t.Errorf("%d record files after restart, want 1", n)
	}
}

func TestExpiredEntryRemovedOnGet(t *testing.T) {
	clock := newFakeClock()
	l := open(t, Options{Clock: clock})
	set(t, l, "k", cache.Entry{Payload: []byte("v"), FreshUntil: clock.Now().Add(time.Minute).UnixNano()})
	if _, ok := get(t, l, "k"); !ok {
		t.Fatal("Get(k) before expiry: not found")
	}
	clock.Advance(time.Minute)
	if _, ok := get(t, l, "k"); ok {
		t.Fatal("Get(k) at its deadline found it")
	}
	if n := len(recordFiles(t, l.dir)); n != 0 {
		t.Errorf("%d record files after an expired Get, want 0", n)
	}
	if l.idx.len() != 0 {
		t.Errorf("index holds %d entries, want 0", l.idx.len())
	}
}

func TestSetOfExpiredEntryDeletes(t *testing.T) {
	clock := newFakeClock()
	l := open(t, Options{Clock: clock})
	set(t, l, "k", entryAt(clock.Now(), "v"))
	set(t, l, "k", cache.Entry{Payload: []byte("v"), FreshUntil: clock.Now().Add(-time.Second).UnixNano()})
	if _, ok := get(t, l, "k"); ok {
		t.Error("Get(k) found an entry after setting an expired one")
	}
	if n := len(recordFiles(t, l.dir)); n != 0 {
		t.Errorf("%d record files, want 0", n)
	}
}

func TestBoundByEntriesEvictsLeastRecentlyUsed(t *testing.T) {
	now := time.Now()
	l := open(t, Options{MaxEntries: 3})
	for _, k := range []string{"a", "b", "c"} {
		set(t, l, k, entryAt(now, k))
	}
	get(t, l, "a") // a is now more recent than b
	set(t, l, "d", entryAt(now, "d"))
	if got, want := keys(t, l), []string{"a", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v (b was least recently used)", got, want)
	}
	if n := len(recordFiles(t, l.dir)); n != 3 {
		t.Errorf("%d record files, want 3", n)
	}
}

func TestBoundByBytes(t *testing.T) {
	now := time.Now()
	l := open(t, Options{MaxBytes: 10_000})
	value := string(bytes.Repeat([]byte("x"), 1000))
	for i := range 30 {
		set(t, l, fmt.Sprintf("k%02d", i), entryAt(now, value))
		if l.idx.bytes > 10_000 {
			t.Fatalf("after %d sets the index holds %d bytes, bound is 10000", i+1, l.idx.bytes)
		}
	}
	var onDisk int64
	for _, f := range recordFiles(t, l.dir) {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		onDisk += fi.Size()
	}
	if onDisk != l.idx.bytes || onDisk > 10_000 {
		t.Errorf("record files hold %d bytes, index counts %d, bound 10000", onDisk, l.idx.bytes)
	}
	got := keys(t, l)
	if len(got) == 0 || got[len(got)-1] != "k29" {
		t.Errorf("keys = %v, want the most recent ones ending with k29", got)
	}
}

func TestEvictionPrefersExpired(t *testing.T) {
	clock := newFakeClock()
	l := open(t, Options{MaxEntries: 2, Clock: clock})
	set(t, l, "old-live", entryAt(clock.Now(), "x"))
	set(t, l, "expiring", cache.Entry{Payload: []byte("y"), FreshUntil: clock.Now().Add(time.Minute).UnixNano()})
	clock.Advance(2 * time.Minute)
	set(t, l, "new", entryAt(clock.Now(), "z"))
	if got, want := keys(t, l), []string{"new", "old-live"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v (the expired record goes first)", got, want)
	}
}

func TestRestartEnforcesSmallerBounds(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	for i := range 10 {
		set(t, l, fmt.Sprintf("k%d", i), entryAt(now, "v"))
	}
	l = reopen(t, l, Options{MaxEntries: 4})
	if n := l.idx.len(); n != 4 {
		t.Errorf("index holds %d entries, want 4", n)
	}
	if n := len(recordFiles(t, l.dir)); n != 4 {
		t.Errorf("%d record files, want 4", n)
	}
}

func TestTooLargeEntryIsRejectedAndReplacesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
		size int // payload bytes of the rejected entry
	}{
		// Over MaxValueBytes.
		{"entry over MaxValueBytes", Options{MaxValueBytes: 100}, 200},
		// Exactly MaxValueBytes (which defaults to MaxBytes here), but its
		// record, with the key and the header, is over MaxBytes: storing it
		// would evict every record, itself included.
		{"record over MaxBytes", Options{MaxBytes: 4096}, 4096 - cache.EntrySize(&cache.Entry{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.opts.Dir = t.TempDir()
			l := open(t, tc.opts)
			ctx := context.Background()
			for _, k := range []string{"a", "b", "k"} {
				if err := l.Set(ctx, k, cache.Entry{Payload: []byte("small " + k)}); err != nil {
					t.Fatal(err)
				}
			}
			err := l.Set(ctx, "k", cache.Entry{Payload: make([]byte, tc.size)})
			if !errors.Is(err, cache.ErrTooLarge) {
				t.Fatalf("Set of a %d-byte payload = %v, want cache.ErrTooLarge", tc.size, err)
			}
			// The key's older value is gone (the caller replaced it); the
			// other keys are untouched.
			if _, ok, _ := l.Get(ctx, "k"); ok {
				t.Error("the rejected key still serves its older value")
			}
			for _, k := range []string{"a", "b"} {
				if e, ok, err := l.Get(ctx, k); err != nil || !ok || string(e.Payload) != "small "+k {
					t.Errorf("Get(%s) = %q, %v, %v after the rejected Set; want it untouched", k, e.Payload, ok, err)
				}
			}
		})
	}
}

func TestSetRejectsWhatCannotBeRead(t *testing.T) {
	l := open(t, Options{})
	now := time.Now().UnixNano()
	tests := []struct {
		name string
		key  string
		e    cache.Entry
		want error
	}{
		{"empty key", "", cache.Entry{}, cache.ErrInvalidKey},
		{"control character", "a\nb", cache.Entry{}, cache.ErrInvalidKey},
		{"empty tag", "k", cache.Entry{Tags: []string{""}}, cache.ErrInvalidKey},
		{"stale before fresh", "k", cache.Entry{FreshUntil: now + 10, StaleUntil: now + 5}, nil},
	}
	for _, tc := range tests {
		err := l.Set(context.Background(), tc.key, tc.e)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: Set(%q) = %v, want an error wrapping %v", tc.name, tc.key, err, tc.want)
		}
	}
}

func TestDeleteOfCollidingKeyKeepsOtherRecord(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	set(t, l, "a", entryAt(now, "A"))
	// Pretend "b" hashes to a's file: the index is keyed by file ID.
	l.mu.Lock()
	n := l.idx.get(l.prot.fileID("a"))
	l.mu.Unlock()
	n.key = "b"
	if err := l.Delete(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if len(recordFiles(t, l.dir)) != 1 {
		t.Error("Delete of a key removed the record of a colliding key")
	}
}

func TestClosedLayer(t *testing.T) {
	l := open(t, Options{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	ctx := context.Background()
	if _, _, err := l.Get(ctx, "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if err := l.Set(ctx, "k", cache.Entry{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Set after Close = %v, want ErrClosed", err)
	}
	if err := l.Clear(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Clear after Close = %v, want ErrClosed", err)
	}
}

func TestCancelledContext(t *testing.T) {
	l := open(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Set(ctx, "k", cache.Entry{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Set with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestDirInUse(t *testing.T) {
	l := open(t, Options{})
	if _, err := New(Options{Dir: l.dir}); !errors.Is(err, ErrDirInUse) {
		t.Errorf("second New on %s = %v, want ErrDirInUse", l.dir, err)
	}
}

func TestPingFailsOnReadOnlyDir(t *testing.T) {
	l := open(t, Options{})
	if err := l.Ping(context.Background()); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	if err := os.Chmod(l.dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Chmod(l.dir, dirMode); err != nil {
			t.Error(err)
		}
	})
	if os.Geteuid() == 0 {
		t.Skip("running as root: a read-only mode does not stop root from writing")
	}
	if err := l.Ping(context.Background()); err == nil {
		t.Error("Ping on a read-only directory = nil, want an error")
	}
}

func TestClearRemovesUnindexedRecords(t *testing.T) {
	now := time.Now()
	l := open(t, Options{})
	set(t, l, "a", entryAt(now, "A"))
	// A record the index does not know, as left by an unreadable file at
	// startup.
	l.mu.Lock()
	l.idx.reset()
	l.mu.Unlock()
	other := filepath.Join(l.dir, "notes.txt")
	if err := os.WriteFile(other, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(recordFiles(t, l.dir)); n != 0 {
		t.Errorf("%d record files after Clear, want 0", n)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("Clear removed a file that is not a record: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	now := time.Now()
	l := open(t, Options{MaxEntries: 20})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := fmt.Sprintf("k%d", (g*7+i)%30)
				switch i % 5 {
				case 0, 1:
					if err := l.Set(ctx, k, entryAt(now, k)); err != nil {
						t.Errorf("Set(%q): %v", k, err)
					}
				case 2:
					if err := l.Delete(ctx, k); err != nil {
						t.Errorf("Delete(%q): %v", k, err)
					}
				default:
					e, ok, err := l.Get(ctx, k)
					if err != nil || (ok && string(e.Payload) != k) {
						t.Errorf("Get(%q) = %q, %v, %v", k, e.Payload, ok, err)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := l.Scan(ctx, "k", func(string) bool { return true }); err != nil {
				t.Errorf("Scan: %v", err)
			}
		}
	})
	wg.Wait()
	if l.CorruptEntries() != 0 {
		t.Errorf("CorruptEntries = %d after concurrent use, want 0", l.CorruptEntries())
	}
	// The index and the directory agree.
	files := recordFiles(t, l.dir)
	if len(files) != l.idx.len() || l.idx.len() > 20 {
		t.Errorf("%d record files, %d indexed entries, bound 20", len(files), l.idx.len())
	}
	var onDisk int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		onDisk += fi.Size()
	}
	if onDisk != l.idx.bytes {
		t.Errorf("record files hold %d bytes, index counts %d", onDisk, l.idx.bytes)
	}
}

func TestSyncWritesRecordsThatANewLayerReads(t *testing.T) {
	t.Parallel()
	// With Sync, Set fsyncs the record, its shard directory and, for a new
	// shard, Dir itself; whether that survives a power loss is beyond a
	// test, but every such call must succeed and leave readable records.
	dir := t.TempDir()
	l, err := New(Options{Dir: dir, Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"} // several shards
	for _, k := range keys {
		if err := l.Set(ctx, k, cache.Entry{Payload: []byte("v-" + k)}); err != nil {
			t.Fatalf("Set(%s) with Sync: %v", k, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, Options{Dir: dir})
	for _, k := range keys {
		if e, ok, err := l.Get(ctx, k); err != nil || !ok || string(e.Payload) != "v-"+k {
			t.Errorf("Get(%s) after reopening = %q, %v, %v", k, e.Payload, ok, err)
		}
	}
}
