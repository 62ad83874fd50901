package redisbus

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

var testFrames = []frame{
	{id: [idSize]byte{1}, sender: "a", ts: 0, msg: cache.BusMessage{Kind: cache.BusDelete, Keys: []string{"k"}}},
	{id: [idSize]byte{2, 3}, sender: strings.Repeat("s", MaxInstanceIDBytes), ts: math.MaxInt64,
		msg: cache.BusMessage{Kind: cache.BusExpire, Keys: []string{"", "ключ", strings.Repeat("x", 200)}, Prefix: "p", Generation: math.MaxUint64}},
	{id: [idSize]byte{0xff}, sender: "b", ts: -1, msg: cache.BusMessage{Kind: cache.BusWrite, Keys: []string{"a", "b"}, Generation: 127}},
	{sender: "c", ts: 1_700_000_000_000, msg: cache.BusMessage{Kind: cache.BusClear, Prefix: strings.Repeat("q", 128)}},
	{sender: "d", ts: 1, msg: cache.BusMessage{Kind: cache.BusClear}},
	{sender: "e", ts: 2, msg: cache.BusMessage{Kind: cache.BusGeneration, Generation: 128}},
}

func sameFrame(a, b frame) bool {
	return a.id == b.id && a.sender == b.sender && a.ts == b.ts && a.msg.Kind == b.msg.Kind &&
		a.msg.Prefix == b.msg.Prefix && a.msg.Generation == b.msg.Generation && slices.Equal(a.msg.Keys, b.msg.Keys)
}

func TestWireRoundTrip(t *testing.T) {
	for _, secret := range [][]byte{nil, []byte("k")} {
		for _, f := range testFrames {
			p := encode(nil, &f, secret, "ch")
			if want := overhead(f.sender, &f.msg, len(f.msg.Keys), secret != nil) + keysLen(f.msg.Keys); len(p) != want {
				t.Errorf("encode(%+.60v): %d bytes, overhead and keys predict %d", f, len(p), want)
			}
			got, body, mac, err := decode(p)
			if err != nil {
				t.Fatalf("decode(encode(%+.60v)): %v", f, err)
			}
			if !sameFrame(got, f) || got.signed != (secret != nil) {
				t.Errorf("decode(encode(%+.60v)) = %+.60v", f, got)
			}
			if secret == nil {
				if body != nil || mac != nil {
					t.Errorf("unsigned %+.60v: decode returned a body or MAC", f)
				}
				continue
			}
			if !verify(secret, "ch", body, mac) {
				t.Errorf("signed %+.60v: does not verify", f)
			}
			if verify(secret, "ch2", body, mac) || verify([]byte("other"), "ch", body, mac) {
				t.Errorf("signed %+.60v: verifies with another channel or key", f)
			}
		}
	}
}

func keysLen(keys []string) int {
	n := 0
	for _, k := range keys {
		n += strLen(k)
	}
	return n
}

func TestDecodeRejects(t *testing.T) {
	valid := encode(nil, &testFrames[0], nil, "ch")
	with := func(i int, b byte) []byte {
		p := slices.Clone(valid)
		p[i] = b
		return p
	}
	// keysAt is the offset of the key count in valid: header, sender "a",
	// generation 0, empty prefix.
	keysAt := headerSize + 2 + 1 + 1
	for _, tc := range []struct {
		name string
		p    []byte
	}{
		{"empty", nil},
		{"version 0", with(0, 0)},
		{"version 2", with(0, 2)},
		{"unknown flag", with(1, 2)},
		{"kind 0", with(18, 0)},
		{"kind 6", with(18, 6)},
		{"truncated header", valid[:headerSize-1]},
		{"truncated key", valid[:len(valid)-1]},
		{"trailing byte", append(slices.Clone(valid), 0)},
		{"empty sender", slices.Concat(valid[:headerSize], []byte{0}, valid[headerSize+2:])},
		{"no keys for delete", slices.Concat(valid[:keysAt], []byte{0})},
		{"key count beyond the data", slices.Concat(valid[:keysAt], []byte{100, 1, 'k'})},
		{"huge key count", slices.Concat(valid[:keysAt], binary.AppendUvarint(nil, math.MaxUint64), []byte{1, 'k'})},
		{"key length beyond the data", slices.Concat(valid[:keysAt], []byte{1, 5, 'k'})},
		{"long varint", slices.Concat(valid[:keysAt], []byte{0x81, 0x00, 1, 'k'})},
		{"varint overflow", slices.Concat(valid[:keysAt], bytes.Repeat([]byte{0xff}, 10), []byte{1})},
		{"keys on clear", encode(nil, &frame{sender: "a", msg: cache.BusMessage{Kind: cache.BusClear, Keys: []string{"k"}}}, nil, "ch")},
		{"signed without MAC", with(1, flagSigned)},
	} {
		if _, _, _, err := decode(tc.p); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: decode(% x) error %v, want ErrMalformed", tc.name, tc.p, err)
		}
	}
}

func TestUvLen(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 16383, 16384, math.MaxUint32, math.MaxUint64} {
		if got, want := uvLen(v), len(binary.AppendUvarint(nil, v)); got != want {
			t.Errorf("uvLen(%d) = %d, want %d", v, got, want)
		}
	}
}

// FuzzDecode feeds decode arbitrary bytes: it must never panic, and what it
// accepts must be the one encoding of what it returns.
func FuzzDecode(f *testing.F) {
	for _, fr := range testFrames {
		f.Add(encode(nil, &fr, nil, "ch"))
		f.Add(encode(nil, &fr, []byte("k"), "ch"))
	}
	f.Add([]byte{})
	f.Add([]byte{wireVersion, flagSigned})
	f.Fuzz(func(t *testing.T, p []byte) {
		fr, body, mac, err := decode(p)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decode error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if fr.signed {
			if len(mac) != macSize || !bytes.Equal(slices.Concat(body, mac), p) {
				t.Fatalf("signed: body and MAC are not the message")
			}
			p = body
		}
		if again := encode(nil, &fr, nil, ""); !bytes.Equal(again[2:], p[2:]) {
			t.Fatalf("decode(% x) = %+v, which encodes as % x", p, fr, again)
		}
	})
}
