package cache_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/codec"
)

func TestSnapshotRestoresValuesTagsAndRemainingTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := cachetest.NewManualClock()
	src := newStack(t, cache.Options{Clock: clock, TTL: time.Hour}, newMemory(t, "memory", clock), newDisk(t, clock))
	v := cache.Typed[user](src)
	must(t, v.Set(ctx, "u1", user{ID: 1, Name: "Ada"}, cache.Tags("users")))
	must(t, v.Set(ctx, "u2", user{ID: 2, Name: "Bob"}, cache.Tags("users"), cache.TTL(10*time.Minute)))
	must(t, v.Set(ctx, "gone", user{ID: 3}, cache.TTL(time.Minute)))
	must(t, v.Set(ctx, "skip-me", user{ID: 4}))
	var buf bytes.Buffer
	info, err := src.Snapshot(ctx, &buf, cache.SnapshotOptions{Watermark: 42})
	if err != nil {
		t.Fatal(err)
	}
	if info.Entries != 4 || info.Watermark != 42 || len(info.Checksum) != 64 || info.Bytes != int64(buf.Len()) {
		t.Fatalf("SnapshotInfo = %+v (buffer %d bytes)", info, buf.Len())
	}

	clock.Advance(7 * time.Minute) // restore later: deadlines must shift
	dst := newStack(t, cache.Options{Clock: clock}, newMemory(t, "memory", clock))
	dv := cache.Typed[user](dst)
	rinfo, err := dv.Restore(ctx, bytes.NewReader(buf.Bytes()), cache.RestoreOptions{
		Skip: func(k string) bool { return k == "skip-me" },
	})
	if err != nil {
		t.Fatal(err)
	}
	if rinfo.Restored != 3 || rinfo.Skipped != 1 || rinfo.Watermark != 42 {
		t.Fatalf("RestoreInfo = %+v, want 3 restored, 1 skipped, watermark 42", rinfo)
	}
	if ttl := ttlOf(t, dst, "gone"); ttl != time.Minute {
		t.Fatalf("restored 1-minute entry has %v left, want the 1m it had at export", ttl)
	}
	if got, err := dv.Get(ctx, "u1", nil); err != nil || got.Name != "Ada" {
		t.Fatalf("restored u1 = %+v, %v", got, err)
	}
	if ttl := ttlOf(t, dst, "u2"); ttl != 10*time.Minute {
		t.Fatalf("restored u2 TTL = %v, want the 10m it had left at export", ttl)
	}
	if n, _ := dst.InvalidateTag(ctx, "users"); n != 2 {
		t.Fatalf("InvalidateTag(users) after restore removed %d keys, want 2 (tags survive a snapshot)", n)
	}
}

func TestRestoreRejectsDamagedSnapshotsAndWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := newStack(t, cache.Options{})
	v := cache.Typed[string](src)
	for _, k := range []string{"a", "b", "c"} {
		must(t, v.Set(ctx, k, k))
	}
	var buf bytes.Buffer
	if _, err := src.Snapshot(ctx, &buf, cache.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	cases := map[string][]byte{
		"truncated": good[:len(good)-10],
		"flipped":   flipped,
		"empty":     nil,
		"garbage":   []byte("not a snapshot at all, but long enough to have a checksum....."),
	}
	for name, data := range cases {
		dst := newStack(t, cache.Options{})
		_, err := cache.Typed[string](dst).Restore(ctx, bytes.NewReader(data), cache.RestoreOptions{})
		if !errors.Is(err, cache.ErrSnapshot) {
			t.Errorf("%s: Restore error = %v, want ErrSnapshot", name, err)
		}
		if got, _ := cache.Typed[string](dst).GetMany(ctx, []string{"a", "b", "c"}, nil); len(got) != 0 {
			t.Errorf("%s: a rejected snapshot restored %v", name, got)
		}
	}
	dst := newStack(t, cache.Options{})
	if _, err := cache.Typed[string](dst).Restore(ctx, bytes.NewReader(good), cache.RestoreOptions{MaxEntries: 2}); !errors.Is(err, cache.ErrTooLarge) {
		t.Errorf("Restore over MaxEntries = %v, want ErrTooLarge", err)
	}
	if _, err := src.Snapshot(ctx, &bytes.Buffer{}, cache.SnapshotOptions{MaxEntries: 2}); !errors.Is(err, cache.ErrTooLarge) {
		t.Errorf("Snapshot over MaxEntries = %v, want ErrTooLarge", err)
	}
	other := newStack(t, cache.Options{Codec: codec.MessagePack{}})
	if _, err := cache.Typed[string](other).Restore(ctx, bytes.NewReader(good), cache.RestoreOptions{}); !errors.Is(err, cache.ErrSnapshot) {
		t.Errorf("Restore with another codec = %v, want ErrSnapshot", err)
	}
}

func TestSnapshotFileIsWrittenAtomically(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t, cache.Options{})
	must(t, cache.Typed[int](s).Set(ctx, "k", 7))
	path := filepath.Join(t.TempDir(), "snap.lcs")
	if _, err := s.SnapshotFile(ctx, path, cache.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := newStack(t, cache.Options{})
	if _, err := cache.Typed[int](dst).RestoreFile(ctx, path, cache.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := cache.Typed[int](dst).Get(ctx, "k", nil); got != 7 {
		t.Fatalf("restored k = %d, want 7", got)
	}
}

func FuzzRestore(f *testing.F) {
	s, err := cache.New(context.Background(), []cache.Layer{newMemory(f, "m", nil)}, cache.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close(context.Background()) })
	v := cache.Typed[string](s)
	_ = v.Set(context.Background(), "seed", "value", cache.Tags("t"))
	var buf bytes.Buffer
	if _, err := s.Snapshot(context.Background(), &buf, cache.SnapshotOptions{}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = v.Restore(context.Background(), bytes.NewReader(data), cache.RestoreOptions{MaxEntries: 100})
	})
}

func TestRestoreWritesOnlyTheNamedLayersAndStillRecordsTags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := newStack(t, cache.Options{TTL: time.Hour})
	must(t, cache.Typed[user](src).Set(ctx, "u1", user{ID: 1}, cache.Tags("users")))
	var buf bytes.Buffer
	if _, err := src.Snapshot(ctx, &buf, cache.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}

	local, shared := newMemory(t, "local", nil), newMemory(t, "shared", nil)
	dst := newStack(t, cache.Options{}, local, shared)
	dv := cache.Typed[user](dst)
	if _, err := dv.Restore(ctx, bytes.NewReader(buf.Bytes()), cache.RestoreOptions{Layers: []string{"nope"}}); err == nil {
		t.Fatal("Restore into a layer the stack does not have succeeded")
	}
	if _, err := dv.Restore(ctx, bytes.NewReader(buf.Bytes()), cache.RestoreOptions{Layers: []string{"local"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := local.Get(ctx, "u1"); !ok {
		t.Fatal("the named layer did not get the entry")
	}
	if _, ok, _ := shared.Get(ctx, "u1"); ok {
		t.Fatal("a layer left out of RestoreOptions.Layers got the entry")
	}
	if n, _ := dst.InvalidateTag(ctx, "users"); n != 1 {
		t.Fatalf("InvalidateTag(users) after a partial restore removed %d keys, want 1", n)
	}
}

func TestRestoreWithAnEntryThatDoesNotDecodeWritesNothing(t *testing.T) {
	t.Parallel()
	// 1,500 ints and one string, restored as ints: the string does not
	// decode. Restore writes in batches of a few hundred; all entries are
	// decoded before the first batch, so none is written, wherever the bad
	// one sits in the snapshot.
	ctx := context.Background()
	src := newStack(t, cache.Options{})
	keys := make([]string, 1500)
	for i := range keys {
		keys[i] = "n" + strconv.Itoa(i)
		must(t, cache.Typed[int](src).Set(ctx, keys[i], i))
	}
	must(t, cache.Typed[string](src).Set(ctx, "s", "not an int"))
	var buf bytes.Buffer
	if _, err := src.Snapshot(ctx, &buf, cache.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := newStack(t, cache.Options{})
	info, err := cache.Typed[int](dst).Restore(ctx, bytes.NewReader(buf.Bytes()), cache.RestoreOptions{})
	if !errors.Is(err, cache.ErrSnapshot) {
		t.Fatalf("Restore = %v, want ErrSnapshot for the entry that does not decode", err)
	}
	got, err := cache.Typed[int](dst).GetMany(ctx, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || info.Restored != 0 {
		t.Fatalf("a rejected snapshot restored %d entries (info.Restored %d)", len(got), info.Restored)
	}
}
