package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

func TestPayloadJSONMessagePack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v    any
		want string
	}{
		{map[string]any{"id": 1, "name": "Ada"}, `{"id":1,"name":"Ada"}`},
		{map[int]string{1: "one"}, `{"1":"one"}`},
		{[]any{nil, true, 1.5, "x", []byte("hi")}, `[null,true,1.5,"x","aGk="]`},
		{time.Unix(0, 0).UTC(), `"1970-01-01T00:00:00Z"`},
		{int64(-1 << 40), `-1099511627776`},
		{strings.Repeat("x", 300), `"` + strings.Repeat("x", 300) + `"`},
	} {
		b, err := msgpack.Marshal(tc.v)
		must(t, err)
		got, err := payloadJSON(codecMsgpack, b)
		if err != nil || string(got) != tc.want {
			t.Errorf("payloadJSON(msgpack of %#v) = %s, %v; want %s", tc.v, got, err, tc.want)
		}
	}
}

func TestPayloadJSONRejects(t *testing.T) {
	t.Parallel()
	deep := append(bytes.Repeat([]byte{0x91}, maxPreviewDepth+1), 0xc0) // [[[…[nil]…]]]
	ok := append(bytes.Repeat([]byte{0x91}, maxPreviewDepth), 0xc0)
	if _, err := payloadJSON(codecMsgpack, ok); err != nil {
		t.Errorf("%d levels: %v, want accepted", maxPreviewDepth, err)
	}
	for _, tc := range []struct {
		name, codec string
		in          []byte
		want        string
	}{
		{"too deep", codecMsgpack, deep, "nested more than"},
		{"truncated string", codecMsgpack, []byte{0xd9, 10, 'a'}, "truncated"},
		{"truncated array", codecMsgpack, []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}, "truncated"},
		{"trailing bytes", codecMsgpack, []byte{0xc0, 0xc0}, "1 trailing bytes"},
		{"never used", codecMsgpack, []byte{0xc1}, "invalid type byte"},
		{"empty", codecMsgpack, nil, "truncated"},
		{"not JSON", codecJSON, []byte{0x82, 0xa1}, "--codec msgpack"},
		{"deep JSON", codecJSON, bytes.Repeat([]byte("["), 20000), "not JSON"},
	} {
		if _, err := payloadJSON(tc.codec, tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzCheckMsgpack checks that the structure check never panics and that
// whatever it accepts, the decoder reads to the end without recursing
// deeper than it allowed.
func FuzzCheckMsgpack(f *testing.F) {
	for _, v := range []any{nil, 1, "s", []any{1, []any{2}}, map[string]any{"a": []byte("b")}, 1.5, time.Unix(1, 0)} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkMsgpack(b, 64) != nil {
			return
		}
		_, _ = payloadJSON(codecMsgpack, b) // must not panic or overflow the stack
	})
}
