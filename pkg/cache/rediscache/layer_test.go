package rediscache_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/compress"
	"github.com/layercache/layercache/pkg/cache/layertest"
	"github.com/layercache/layercache/pkg/cache/rediscache"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	layertest.Run(t, func(t *testing.T) cache.Layer {
		l, _ := newLayer(t, rediscache.Options{})
		return l
	})
}

func TestConformanceCompressed(t *testing.T) {
	t.Parallel()
	for _, alg := range []compress.Algorithm{compress.Gzip, compress.Zstd, compress.Brotli} {
		t.Run(alg.String(), func(t *testing.T) {
			t.Parallel()
			layertest.Run(t, func(t *testing.T) cache.Layer {
				l, _ := newLayer(t, rediscache.Options{Compression: compress.Options{Algorithm: alg, Threshold: 1}})
				return l
			})
		})
	}
}

func TestInfo(t *testing.T) {
	t.Parallel()
	l, _ := newLayer(t, rediscache.Options{})
	if got, want := l.Info(), (cache.LayerInfo{Name: "redis", Shared: true}); got != want {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
	l, _ = newLayer(t, rediscache.Options{Name: "l2"})
	if got := l.Info().Name; got != "l2" {
		t.Errorf("Info().Name = %q, want l2", got)
	}
}

func TestCloseLeavesClientOpen(t *testing.T) {
	t.Parallel()
	l, c := newLayer(t, rediscache.Options{})
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Errorf("client after layer Close: %v, want it still open", err)
	}
}

func TestReadsEntriesWrittenWithAnyCompression(t *testing.T) {
	t.Parallel()
	algs := []compress.Algorithm{compress.None, compress.Gzip, compress.Zstd, compress.Brotli}
	prefix := redistest.Prefix(t)
	layers := map[compress.Algorithm]*rediscache.Layer{}
	var raw *redis.Client
	for _, alg := range algs {
		layers[alg], raw = newLayer(t, rediscache.Options{Prefix: prefix, Compression: compress.Options{Algorithm: alg}})
	}
	payload := text(8 << 10)
	for _, writer := range algs {
		key := "written-with-" + writer.String()
		mustSet(t, layers[writer], key, entry(payload, "t"))
		stored, err := raw.Get(ctx(t), prefix+key).Bytes()
		if err != nil {
			t.Fatalf("raw GET %s: %v", key, err)
		}
		if got := compress.Algorithm(stored[0]); got != writer {
			t.Errorf("%s stored with marker %s, want %s", key, got, writer)
		}
		if writer != compress.None && len(stored) >= len(payload) {
			t.Errorf("%s stored %d bytes for a %d-byte payload, want it compressed", key, len(stored), len(payload))
		}
		for _, reader := range algs {
			e, ok, err := layers[reader].Get(ctx(t), key)
			if err != nil || !ok || string(e.Payload) != payload || !slices.Equal(e.Tags, []string{"t"}) {
				t.Errorf("written with %s, read with %s: found %v, err %v, %d payload bytes, tags %v",
					writer, reader, ok, err, len(e.Payload), e.Tags)
			}
		}
	}
}

func TestSmallValuesAreStoredRaw(t *testing.T) {
	t.Parallel()
	prefix := redistest.Prefix(t)
	l, raw := newLayer(t, rediscache.Options{Prefix: prefix, Compression: compress.Options{Algorithm: compress.Zstd}})
	mustSet(t, l, "small", entry("tiny"))
	stored, err := raw.Get(ctx(t), prefix+"small").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if compress.Algorithm(stored[0]) != compress.None {
		t.Errorf("4-byte payload stored with marker %s, want none (below Threshold)", compress.Algorithm(stored[0]))
	}
}

func TestCorruptEntryIsMissCountedAndDeleted(t *testing.T) {
	t.Parallel()
	prefix := redistest.Prefix(t)
	l, raw := newLayer(t, rediscache.Options{Prefix: prefix})
	good := cache.AppendEntry([]byte{byte(compress.None)}, &cache.Entry{Payload: []byte("ok")})
	flipped := bytes.Clone(good)
	flipped[len(flipped)-6] ^= 0x01
	corrupt := map[string][]byte{
		"empty":          {},
		"garbage":        []byte("not an entry at all"),
		"unknown-marker": append([]byte{0x7f}, good[1:]...),
		"bad-envelope":   {byte(compress.None), 'L', 'C', 9, 0, 0, 0, 0, 0, 0},
		"flipped-bit":    flipped,
		"bad-zstd":       {byte(compress.Zstd), 0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff},
		"bad-gzip":       {byte(compress.Gzip), 0x1f, 0x8b, 0, 0},
	}
	var keys []string
	if err := raw.HSet(ctx(t), prefix+"wrong-type", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	keys = append(keys, "wrong-type")
	for k, v := range corrupt {
		keys = append(keys, k)
		if err := raw.Set(ctx(t), prefix+k, v, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(keys)

	// Get: each corrupt key is a miss, counted and deleted.
	for i, k := range keys[:3] {
		e, ok, err := l.Get(ctx(t), k)
		if err != nil || ok {
			t.Errorf("Get(%s) = found %v, err %v (payload %q); want a plain miss", k, ok, err, e.Payload)
		}
		if got := l.CorruptEntries(); got != uint64(i+1) {
			t.Errorf("CorruptEntries() after Get(%s) = %d, want %d", k, got, i+1)
		}
		if exists(t, raw, prefix+k) {
			t.Errorf("corrupt key %s still stored after Get", k)
		}
	}

	// GetMany: the rest, mixed with a good key and a missing one.
	mustSet(t, l, "good", entry("fine"))
	batch := append([]string{"good", "missing"}, keys[3:]...)
	entries, found, err := l.GetMany(ctx(t), batch)
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	for i, k := range batch {
		if want := k == "good"; found[i] != want {
			t.Errorf("GetMany found[%s] = %v, want %v", k, found[i], want)
		}
	}
	if string(entries[0].Payload) != "fine" {
		t.Errorf("GetMany good payload = %q, want fine", entries[0].Payload)
	}
	if got, want := l.CorruptEntries(), uint64(len(keys)); got != want {
		t.Errorf("CorruptEntries() = %d, want %d", got, want)
	}
	for _, k := range keys {
		if exists(t, raw, prefix+k) {
			t.Errorf("corrupt key %s still stored", k)
		}
	}
}

func TestClearWithoutPrefixIsRefused(t *testing.T) {
	t.Parallel()
	db := redistest.Shared(t).NewDB(t)
	l, err := rediscache.New(rediscache.Options{Client: db})
	if err != nil {
		t.Fatal(err)
	}
	mustSet(t, l, "k", entry("v"))
	if err := l.Clear(ctx(t)); !errors.Is(err, rediscache.ErrNoPrefix) {
		t.Fatalf("Clear with empty prefix = %v, want ErrNoPrefix", err)
	}
	if !exists(t, db, "k") {
		t.Error("Clear with empty prefix deleted a key")
	}
}

func TestClearLeavesOtherPrefixes(t *testing.T) {
	t.Parallel()
	base := redistest.Prefix(t)
	small := rediscache.Options{ScanCount: 5, DeleteBatch: 7}
	a, raw := newLayer(t, rediscache.Options{Prefix: base + "a:", ScanCount: small.ScanCount, DeleteBatch: small.DeleteBatch})
	b, _ := newLayer(t, rediscache.Options{Prefix: base + "b:"})
	for i := range 50 {
		mustSet(t, a, fmt.Sprint("k", i), entry("a"))
	}
	mustSet(t, b, "k1", entry("b"))
	// A key that merely starts with a's prefix minus its colon.
	if err := raw.Set(ctx(t), base+"a-sibling", "x", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Clear(ctx(t)); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	var left []string
	if err := a.Scan(ctx(t), "", func(k string) bool { left = append(left, k); return true }); err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("keys left under a's prefix after Clear: %v", left)
	}
	if _, ok, err := b.Get(ctx(t), "k1"); err != nil || !ok {
		t.Errorf("b's key after a.Clear: found %v, err %v; want it kept", ok, err)
	}
	if !exists(t, raw, base+"a-sibling") {
		t.Error("a.Clear deleted a key outside its prefix")
	}
}

func TestGlobCharactersInLayerPrefixAreLiteral(t *testing.T) {
	t.Parallel()
	base := redistest.Prefix(t)
	l, raw := newLayer(t, rediscache.Options{Prefix: base + `[ab]*?\:`})
	mustSet(t, l, "mine", entry("v"))
	// Keys the unescaped pattern would match.
	for _, k := range []string{"a:other", "bxx:other", `[ab]*?\x:other`} {
		if err := raw.Set(ctx(t), base+k, "x", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := l.Scan(ctx(t), "", func(k string) bool { got = append(got, k); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"mine"}) {
		t.Errorf("Scan(\"\") = %q, want [mine]", got)
	}
	if err := l.Clear(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a:other", "bxx:other", `[ab]*?\x:other`} {
		if !exists(t, raw, base+k) {
			t.Errorf("Clear deleted %q, which only matches the prefix as a glob", k)
		}
	}
}

func TestScanUserPrefixWithGlobCharacters(t *testing.T) {
	t.Parallel()
	l, _ := newLayer(t, rediscache.Options{})
	for _, k := range []string{`a?b`, `axb`, `a\b`, `a[b]c`, `ab`, `a*`, `a*z`} {
		mustSet(t, l, k, entry(k))
	}
	for prefix, want := range map[string][]string{
		`a?`:  {`a?b`},
		`a\`:  {`a\b`},
		`a[b`: {`a[b]c`},
		`a*`:  {`a*`, `a*z`},
		`a`:   {`a*`, `a*z`, `a?b`, `a[b]c`, `a\b`, `ab`, `axb`},
	} {
		var got []string
		if err := l.Scan(ctx(t), prefix, func(k string) bool { got = append(got, k); return true }); err != nil {
			t.Fatalf("Scan(%q): %v", prefix, err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("Scan(%q) = %q, want %q", prefix, got, want)
		}
	}
}

func TestOversizedValueIsRejected(t *testing.T) {
	t.Parallel()
	l, _ := newLayer(t, rediscache.Options{MaxValueBytes: 1024})
	mustSet(t, l, "k", entry("old"))
	err := l.Set(ctx(t), "k", entry(text(2000)))
	if !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set(2000-byte payload, MaxValueBytes 1024) = %v, want ErrTooLarge", err)
	}
	if e, ok, _ := l.Get(ctx(t), "k"); !ok || string(e.Payload) != "old" {
		t.Errorf("after a rejected Set, Get(k) = %q, %v; want the old value", e.Payload, ok)
	}
	err = l.SetMany(ctx(t), []cache.Item{{Key: "fits", Entry: entry("x")}, {Key: "big", Entry: entry(text(2000))}})
	if !errors.Is(err, cache.ErrTooLarge) || !strings.Contains(err.Error(), `"big"`) {
		t.Fatalf("SetMany with one oversized item = %v, want ErrTooLarge naming big", err)
	}
	if _, ok, _ := l.Get(ctx(t), "fits"); ok {
		t.Error("SetMany stored items although one was too large")
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	prefix := redistest.Prefix(t)
	l, raw := newLayer(t, rediscache.Options{Prefix: prefix})

	mustSet(t, l, "hour", entry("v")) // ExpiresAt = fresh + 1 min
	pttl, err := raw.PTTL(ctx(t), prefix+"hour").Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl < 55*time.Minute || pttl > 61*time.Minute+time.Second {
		t.Errorf("PTTL after Set of an entry expiring in 61m = %s", pttl)
	}

	mustSet(t, l, "forever", cache.Entry{Payload: []byte("v")})
	if pttl, err := raw.PTTL(ctx(t), prefix+"forever").Result(); err != nil || pttl >= 0 {
		t.Errorf("PTTL of an entry that never expires = %s, %v; want a negative value (no expiry)", pttl, err)
	}

	expired := entry("new")
	expired.FreshUntil = time.Now().Add(-time.Minute).UnixNano()
	expired.StaleUntil = expired.FreshUntil + 1
	for _, set := range []func() error{
		func() error { return l.Set(ctx(t), "hour", expired) },
		func() error { return l.SetMany(ctx(t), []cache.Item{{Key: "forever", Entry: expired}}) },
	} {
		if err := set(); err != nil {
			t.Fatalf("Set of an expired entry: %v", err)
		}
	}
	for _, k := range []string{"hour", "forever"} {
		if exists(t, raw, prefix+k) {
			t.Errorf("%s still stored after being overwritten with an expired entry", k)
		}
	}
}

func TestBulkAcrossBatches(t *testing.T) {
	t.Parallel()
	l, _ := newLayer(t, rediscache.Options{PipelineBatch: 3, DeleteBatch: 4})
	var items []cache.Item
	var keys []string
	for i := range 20 {
		k := fmt.Sprint("k", i)
		keys = append(keys, k)
		if i%2 == 0 {
			items = append(items, cache.Item{Key: k, Entry: entry(k)})
		}
	}
	if err := l.SetMany(ctx(t), items); err != nil {
		t.Fatal(err)
	}
	entries, found, err := l.GetMany(ctx(t), keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if found[i] != (i%2 == 0) || (found[i] && string(entries[i].Payload) != k) {
			t.Errorf("GetMany[%s] = %q, %v", k, entries[i].Payload, found[i])
		}
	}
	if err := l.DeleteMany(ctx(t), keys); err != nil {
		t.Fatal(err)
	}
	if _, found, _ = l.GetMany(ctx(t), keys); slices.Contains(found, true) {
		t.Errorf("keys left after DeleteMany: %v", found)
	}
	if e, f, err := l.GetMany(ctx(t), nil); err != nil || len(e) != 0 || len(f) != 0 {
		t.Errorf("GetMany(nil) = %d, %d, %v", len(e), len(f), err)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	c := redistest.Shared(t).NewClient(t)
	bad := map[string]rediscache.Options{
		"Client":        {},
		"MaxValueBytes": {Client: c, MaxValueBytes: -1},
		"ScanCount":     {Client: c, ScanCount: -1},
		"DeleteBatch":   {Client: c, DeleteBatch: -1},
		"PipelineBatch": {Client: c, PipelineBatch: -1},
		"Compression":   {Client: c, Compression: compress.Options{Algorithm: 42}},
		"MaxInputBytes": {Client: c, MaxValueBytes: 2 << 20, Compression: compress.Options{MaxInputBytes: 1 << 20}},
	}
	for field, o := range bad {
		if _, err := rediscache.New(o); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("New with bad %s = %v, want an error naming it", field, err)
		}
	}
}

func TestGetManyTreatsAWrongTypeKeyAsACorruptMissWhereverItIs(t *testing.T) {
	t.Parallel()
	// The pipeline's own error is the first failed command's; with no plain
	// miss before it, that is the WRONGTYPE reply, which must not fail the
	// batch.
	for _, batch := range [][]string{{"good", "wrong-type"}, {"wrong-type"}, {"wrong-type", "good"}} {
		t.Run(strings.Join(batch, ","), func(t *testing.T) {
			t.Parallel()
			prefix := redistest.Prefix(t)
			l, raw := newLayer(t, rediscache.Options{Prefix: prefix})
			if err := raw.HSet(ctx(t), prefix+"wrong-type", "f", "v").Err(); err != nil {
				t.Fatal(err)
			}
			mustSet(t, l, "good", entry("fine"))
			_, found, err := l.GetMany(ctx(t), batch)
			if err != nil {
				t.Fatalf("GetMany(%v): %v, want the wrong-type key as a miss", batch, err)
			}
			for i, k := range batch {
				if want := k == "good"; found[i] != want {
					t.Errorf("found[%s] = %v, want %v", k, found[i], want)
				}
			}
			if got := l.CorruptEntries(); got != 1 {
				t.Errorf("CorruptEntries() = %d, want 1", got)
			}
			if exists(t, raw, prefix+"wrong-type") {
				t.Error("wrong-type key still stored")
			}
		})
	}
}
