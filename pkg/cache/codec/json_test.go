package codec

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// stdMarshal is what codec.JSON must write: encoding/json with HTML escaping
// off and no trailing newline.
func stdMarshal(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

type embedded struct {
	Inner string `json:"inner"`
}

type tagged struct {
	embedded
	Name    string            `json:"name"`
	Omitted string            `json:"omitted,omitempty"`
	Quoted  int               `json:"quoted,string"`
	Skip    string            `json:"-"`
	Ptr     *int              `json:"ptr"`
	Bytes   []byte            `json:"bytes"`
	Nil     []string          `json:"nil"`
	Map     map[string]int    `json:"map"`
	IntKeys map[int]string    `json:"int_keys"`
	Any     any               `json:"any"`
	Raw     json.RawMessage   `json:"raw"`
	Number  json.Number       `json:"number"`
	When    time.Time         `json:"when"`
	Addr    netip.Addr        `json:"addr"` // a TextMarshaler
	Nested  map[string][]bool `json:"nested"`
	hidden  int               // unexported: never written or read
}

func TestJSONWritesWhatEncodingJSONWrites(t *testing.T) {
	t.Parallel()
	seven := 7
	values := []struct {
		name string
		v    any
	}{
		{"html and line separators", "<a href=\"x\">&</a>\u2028\u2029"},
		{"invalid utf-8", "a\xffb\xc3"},
		{"control characters", "\x00\x01\t\n\r\x1f\x7f"},
		{"non-ascii", "héllo, 世界 🚀"},
		{"floats", []float64{0, math.Copysign(0, -1), 1, 0.1, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64}},
		{"float32", []float32{0.1, 1e21, 3.4e38}},
		{"integers", []any{int8(-8), uint64(math.MaxUint64), int64(math.MinInt64)}},
		{"map keys sorted", map[string]int{"b": 2, "a": 1, "c": 3, "": 0, "aa": 4}},
		{"struct tags", tagged{
			embedded: embedded{Inner: "in"}, Name: "n", Quoted: 42, Skip: "s", Ptr: &seven,
			Bytes: []byte{0, 1, 2, 250}, Map: map[string]int{"z": 1, "y": 2},
			IntKeys: map[int]string{10: "ten", 2: "two", -1: "minus"}, Any: []any{1.5, "x", nil, true},
			Raw: json.RawMessage(`{"k":[1,2]}`), Number: "12.50", When: time.Date(2026, 11, 26, 9, 30, 0, 123, time.UTC),
			Addr: netip.MustParseAddr("10.0.0.1"), Nested: map[string][]bool{"b": {true}, "a": nil}, hidden: 1,
		}},
		{"zero struct", tagged{}},
		{"nil", nil},
		{"empty containers", []any{[]int{}, map[string]any{}, ""}},
	}
	for _, v := range values {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			got, err := JSON{}.Marshal(v.v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if want := stdMarshal(t, v.v); !bytes.Equal(got, want) {
				t.Fatalf("Marshal =\n%s\nencoding/json =\n%s", got, want)
			}
		})
	}
}

func TestJSONMarshalRejectsWhatEncodingJSONRejects(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]any{
		"NaN":      math.NaN(),
		"infinity": math.Inf(1),
		"channel":  make(chan int),
		"function": func() {},
	} {
		if _, err := (JSON{}).Marshal(v); err == nil {
			t.Errorf("Marshal(%s) succeeded, want an error", name)
		}
	}
}

// decodeTargets are the types the differential fuzz decodes into: each
// returns a fresh pointer.
var decodeTargets = []func() any{
	func() any { return new(any) },
	func() any { return new(tagged) },
	func() any { return new(map[string]int) },
	func() any { return new([]string) },
	func() any { return new(string) },
	func() any { return new(float64) },
	func() any { return new(int8) },
	func() any { return new(idTags) },
}

type idTags struct {
	ID   int      `json:"id"`
	Tags []string `json:"tags"`
}

// checkDecodesLikeEncodingJSON decodes data into every target with the codec
// and with encoding/json: both must fail, or both succeed with equal values.
func checkDecodesLikeEncodingJSON(t *testing.T, data []byte) {
	t.Helper()
	for _, target := range decodeTargets {
		got, want := target(), target()
		gotErr := JSON{}.Unmarshal(data, got)
		wantErr := json.Unmarshal(data, want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("Unmarshal(%q) into %T: err = %v, encoding/json err = %v", data, got, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Unmarshal(%q) into %T = %#v, encoding/json = %#v", data, got, reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem())
		}
	}
}

var jsonSeeds = []string{
	`{"id":1,"tags":["a","b"]}`,
	`{"ID":1,"Tags":null}`, // field names match case-insensitively
	`{"name":"n","quoted":"42","ptr":7,"bytes":"AAEC+g==","map":{"a":1},"int_keys":{"-1":"m"},"any":[1.5,"x",null,true],"raw":{"k":[1]},"number":12.5,"when":"2026-11-26T09:30:00Z","addr":"10.0.0.1","inner":"in"}`,
	`{"unknown":{"deep":[1,{"x":null}]},"id":2}`,
	`[1,2,3]`, `["a","\u00e9\ud83d\ude80","\ud800"]`, `"\u2028<>&"`, `"a\xffb"`,
	`1e400`, `-0`, `0.1e-2`, `128`, `-129`, `01`, `1.`, `.5`, `+1`,
	`{"id":1,"id":2}`, `{"id":"1"}`, `{"id":1.5}`, `{"tags":"x"}`,
	`{"a":1} `, `{"a":1} x`, ` null `, `nul`, `{`, `}`, ``, `[`, `{"a":}`, `{"a" 1}`, `[1,]`,
	`{"quoted":"x"}`, `{"bytes":"!"}`, `{"when":"yesterday"}`, `{"addr":"999.1.1.1"}`,
	"\"\t\"", `"\x"`, `"\u12"`, `true`, `false`, `tru`,
}

func TestJSONReadsWhatEncodingJSONReads(t *testing.T) {
	t.Parallel()
	for _, s := range jsonSeeds {
		checkDecodesLikeEncodingJSON(t, []byte(s))
	}
}

func FuzzJSONDecodesLikeEncodingJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDecodesLikeEncodingJSON)
}
