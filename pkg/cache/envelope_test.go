package cache_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

func TestEnvelopeRoundTrips(t *testing.T) {
	t.Parallel()
	entries := []cache.Entry{
		{Payload: []byte(`{"id":1}`)},
		{Payload: []byte("x"), FreshUntil: 100, StaleUntil: 200, ErrorUntil: 300, Tags: []string{"a", "b"}},
		{Payload: []byte{}, FreshUntil: 5},
		{Negative: true, FreshUntil: 7, Tags: []string{"t"}},
		{Payload: bytes.Repeat([]byte{0xff}, 1<<20), Tags: []string{strings.Repeat("t", cache.MaxKeyLen)}},
	}
	for i, in := range entries {
		b := cache.AppendEntry(nil, &in)
		if len(b) != cache.EntrySize(&in) {
			t.Errorf("entry %d: EntrySize = %d, AppendEntry wrote %d", i, cache.EntrySize(&in), len(b))
		}
		out, err := cache.ParseEntry(b)
		if err != nil {
			t.Fatalf("entry %d: ParseEntry: %v", i, err)
		}
		if len(in.Payload) == 0 {
			in.Payload = nil
		}
		if len(out.Payload) == 0 {
			out.Payload = nil
		}
		if !reflect.DeepEqual(in, out) {
			t.Errorf("entry %d: round trip = %+v, want %+v", i, out, in)
		}
	}
}

func TestEnvelopeRejectsCorruption(t *testing.T) {
	t.Parallel()
	good := cache.AppendEntry(nil, &cache.Entry{Payload: []byte("hello"), FreshUntil: 10, Tags: []string{"t"}})
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	cases := map[string][]byte{
		"empty":        nil,
		"short":        good[:6],
		"truncated":    good[:len(good)-1],
		"bad magic":    flip(0),
		"bad version":  flip(2),
		"flipped flag": flip(3),
		"flipped body": flip(len(good) - 6),
		"flipped crc":  flip(len(good) - 1),
	}
	for name, b := range cases {
		if _, err := cache.ParseEntry(b); !errors.Is(err, cache.ErrCorrupt) {
			t.Errorf("%s: ParseEntry error = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add(cache.AppendEntry(nil, &cache.Entry{Payload: []byte("v"), FreshUntil: 1, StaleUntil: 2, Tags: []string{"x"}}))
	f.Add(cache.AppendEntry(nil, &cache.Entry{Negative: true}))
	f.Add([]byte("LC\x01\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := cache.ParseEntry(b)
		if err != nil {
			if !errors.Is(err, cache.ErrCorrupt) {
				t.Fatalf("ParseEntry error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// A record that parses re-encodes to the same bytes.
		if again := cache.AppendEntry(nil, &e); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding a parsed record changed it:\n in  %x\n out %x", b, again)
		}
		if len(e.Tags) > cache.MaxTags {
			t.Fatalf("parsed %d tags, more than MaxTags", len(e.Tags))
		}
	})
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	valid := []string{"k", "user:123", "ключ", strings.Repeat("k", cache.MaxKeyLen), "with space", "emoji😀"}
	for _, k := range valid {
		if err := cache.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	invalid := map[string]string{
		"":                                     "must not be empty",
		strings.Repeat("k", cache.MaxKeyLen+1): "at most 1024",
		"nul\x00":                              "control character 0x00",
		"newline\n":                            "control character 0x0a",
		"del\x7f":                              "control character 0x7f",
		"\xed\xa0\x80" /* lone surrogate */ :   "not valid UTF-8",
		"\xff":                                 "not valid UTF-8",
	}
	for k, want := range invalid {
		err := cache.ValidateKey(k)
		if !errors.Is(err, cache.ErrInvalidKey) || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateKey(%.20q) = %v, want ErrInvalidKey mentioning %q", k, err, want)
		}
	}
}

func TestPlainASCIIFastPathAgreesWithTheByteLoop(t *testing.T) {
	t.Parallel()
	// Every byte value in every position of a 16-byte key.
	for pos := range 16 {
		for b := range 256 {
			k := []byte("abcdefghijklmnop")
			k[pos] = byte(b)
			err := cache.ValidateKey(string(k))
			wantOK := b >= 0x20 && b != 0x7f && b < 0x80
			if b >= 0x80 {
				continue // lone high bytes are invalid UTF-8 either way
			}
			if (err == nil) != wantOK {
				t.Fatalf("byte %#02x at %d: ValidateKey = %v, want ok=%v", b, pos, err, wantOK)
			}
		}
	}
}
