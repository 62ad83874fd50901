package redisflight

import (
	"bytes"
	"strings"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

func TestRecord_roundTrip(t *testing.T) {
	for _, r := range []cache.Result{
		{},
		{Payload: []byte("value")},
		{Payload: []byte("1:2:3:\x00\xff")},
		{NotFound: true},
		{Err: "origin: timeout: 5s"},
		{Err: "e", Payload: []byte("p"), NotFound: true},
	} {
		enc := encodeRecord("1700000000000042", r, 1<<10)
		if !strings.HasPrefix(string(enc), "1700000000000042:") {
			t.Errorf("record of %+v = %q, want it to lead with the fencing token", r, enc)
		}
		rec, err := decodeRecord(string(enc))
		if err != nil || rec.tooLarge || rec.result.NotFound != r.NotFound || rec.result.Err != r.Err ||
			!bytes.Equal(rec.result.Payload, r.Payload) {
			t.Errorf("decode(encode(%+v)) = %+v, %v", r, rec, err)
		}
	}
}

func TestRecord_tooLarge(t *testing.T) {
	for _, r := range []cache.Result{
		{Payload: make([]byte, 9)},
		{Payload: make([]byte, 5), Err: "12345"},
	} {
		rec, err := decodeRecord(string(encodeRecord("7", r, 8)))
		if err != nil || !rec.tooLarge || rec.result.Payload != nil || rec.result.Err != "" {
			t.Errorf("result of %d bytes over a limit of 8: decoded %+v, %v; want a bare too-large marker",
				len(r.Payload)+len(r.Err), rec, err)
		}
	}
	if rec, _ := decodeRecord(string(encodeRecord("7", cache.Result{Payload: make([]byte, 8)}, 8))); rec.tooLarge {
		t.Error("a result of exactly MaxResultBytes was not transferred")
	}
}

func TestRecord_malformed(t *testing.T) {
	for _, s := range []string{"", "1", "1:0", "1:0:0", "x:0:0:", "1:x:0:", "1:0:-1:", "1:8:0:", "1:0:5:abc", "-1:0:0:"} {
		if rec, err := decodeRecord(s); err == nil {
			t.Errorf("decodeRecord(%q) = %+v, want an error", s, rec)
		}
	}
}

func TestNamesFor(t *testing.T) {
	for _, tc := range []struct {
		key, tag string
	}{
		{"user:1", "{user:1}"},
		{"a{b}c", "{a{b}c}"},
		{"}x", "{\x00}}x"},
	} {
		n := namesFor("p:", tc.key)
		want := names{lease: "p:lease:" + tc.tag, fence: "p:fence:" + tc.tag, result: "p:result:" + tc.tag, done: "p:done:" + tc.tag}
		if n != want {
			t.Errorf("namesFor(%q) = %+v, want %+v", tc.key, n, want)
		}
	}
}

func TestFenceOf(t *testing.T) {
	for lease, want := range map[string]string{
		"TOKEN:1700000000000042":  "1700000000000042",
		"ghost:1":                 "1",
		"no fence":                "0",
		"TOKEN:":                  "0",
		"TOKEN:12a":               "0",
		"TOKEN:12345678901234567": "0",
	} {
		if got := fenceOf(lease); got != want {
			t.Errorf("fenceOf(%q) = %q, want %q", lease, got, want)
		}
	}
}
