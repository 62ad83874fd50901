package disk

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

// protectors returns one protector per mode, with fixed keys.
func protectors(t testing.TB) []*protector {
	t.Helper()
	var out []*protector
	for _, keys := range [][2][]byte{{nil, nil}, {nil, signKeyA}, {encKeyA, nil}} {
		p, err := newProtector(keys[0], keys[1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func sampleEntries() []cache.Entry {
	return []cache.Entry{
		{Payload: []byte("v")},
		{Payload: []byte("hello"), Tags: []string{"a", "bb"}, FreshUntil: 10, StaleUntil: 20, ErrorUntil: 30},
		{Negative: true, FreshUntil: 5},
		{Payload: bytes.Repeat([]byte{0xff}, 4096), FreshUntil: 1 << 62},
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, p := range protectors(t) {
		for i, in := range sampleEntries() {
			key := fmt.Sprintf("key:%d:ü", i)
			rec := p.encodeRecord(key, &in, in.ExpiresAt())
			if len(rec) != p.recordLen(key, cache.EntrySize(&in)) {
				t.Errorf("mode %d: record is %d bytes, recordLen says %d", p.mode, len(rec), p.recordLen(key, cache.EntrySize(&in)))
			}
			m, _, err := p.decodeMeta(slices.Clone(rec))
			if err != nil || m.key != key || m.expiresAt != in.ExpiresAt() {
				t.Errorf("mode %d: decodeMeta = %+v, %v; want key %q, expiry %d", p.mode, m, err, key, in.ExpiresAt())
			}
			gotKey, out, err := p.decodeRecord(rec)
			if err != nil {
				t.Fatalf("mode %d, entry %d: decodeRecord: %v", p.mode, i, err)
			}
			if gotKey != key || !bytes.Equal(out.Payload, in.Payload) || !slices.Equal(out.Tags, in.Tags) ||
				out.Negative != in.Negative || out.FreshUntil != in.FreshUntil || out.StaleUntil != in.StaleUntil ||
				out.ErrorUntil != in.ErrorUntil {
				t.Errorf("mode %d: round trip of %+v gave key %q, %+v", p.mode, in, gotKey, out)
			}
		}
	}
}

// TestRecordDetectsEveryFlipAndTruncation: no single-byte change and no
// truncation of a record decodes.
func TestRecordDetectsEveryFlipAndTruncation(t *testing.T) {
	for _, p := range protectors(t) {
		e := cache.Entry{Payload: []byte("payload"), Tags: []string{"t"}, FreshUntil: 99}
		rec := p.encodeRecord("key", &e, e.ExpiresAt())
		for i := range rec {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				b := slices.Clone(rec)
				b[i] ^= mask
				if _, _, err := p.decodeRecord(b); !errors.Is(err, cache.ErrCorrupt) {
					t.Errorf("mode %d: byte %d ^ %#x: decodeRecord error = %v, want cache.ErrCorrupt", p.mode, i, mask, err)
				}
			}
		}
		for n := range len(rec) {
			if _, _, err := p.decodeRecord(slices.Clone(rec[:n])); !errors.Is(err, cache.ErrCorrupt) {
				t.Errorf("mode %d: truncated to %d bytes: decodeRecord error = %v, want cache.ErrCorrupt", p.mode, n, err)
			}
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	ps := protectors(f)
	for _, p := range ps {
		for _, e := range sampleEntries() {
			f.Add(byte(p.mode), p.encodeRecord("k", &e, e.ExpiresAt()))
		}
	}
	f.Add(byte(0), []byte("LCD\x01\x00\x00\xff\xff"))
	f.Fuzz(func(t *testing.T, mode byte, b []byte) {
		p := ps[int(mode)%len(ps)]
		m, bodyStart, err := p.decodeMeta(slices.Clone(b))
		if err != nil {
			if !errors.Is(err, cache.ErrCorrupt) {
				t.Fatalf("decodeMeta error %v does not wrap cache.ErrCorrupt", err)
			}
		} else if bodyStart > len(b) || cache.ValidateKey(m.key) != nil || m.expiresAt < 0 {
			t.Fatalf("decodeMeta accepted meta %+v, body at %d of %d bytes", m, bodyStart, len(b))
		}
		key, e, err := p.decodeRecord(slices.Clone(b))
		if err != nil {
			if !errors.Is(err, cache.ErrCorrupt) {
				t.Fatalf("decodeRecord error %v does not wrap cache.ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes must encode again to a record that decodes to
		// the same thing.
		again := p.encodeRecord(key, &e, e.ExpiresAt())
		key2, e2, err := p.decodeRecord(again)
		if err != nil || key2 != key || !bytes.Equal(e2.Payload, e.Payload) || !slices.Equal(e2.Tags, e.Tags) ||
			e2.ExpiresAt() != e.ExpiresAt() || e2.Negative != e.Negative {
			t.Fatalf("re-encoding %q/%+v gave %q/%+v, %v", key, e, key2, e2, err)
		}
	})
}

func TestParseRecordName(t *testing.T) {
	id := fileID{0xab, 0xcd}
	l := &Layer{dir: "/d"}
	p := l.path(id)
	name := p[len(p)-recordNameLen:]
	if got, ok := parseRecordName(name); !ok || got != id {
		t.Errorf("parseRecordName(%q) = %x, %v; want %x, true", name, got, ok, id)
	}
	for _, bad := range []string{"", "README", name[:len(name)-1], "AB" + name[2:], name[:len(name)-4] + ".tmp"} {
		if _, ok := parseRecordName(bad); ok {
			t.Errorf("parseRecordName(%q) accepted it", bad)
		}
	}
}
