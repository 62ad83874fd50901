package codec

import (
	"encoding/json"
	"strings"
	"testing"
)

// stdJSON is encoding/json behind the Codec interface: the baseline the
// JSON codec is measured against (see docs/adr/0002-json-codec.md).
type stdJSON struct{}

func (stdJSON) Name() string                       { return "encoding-json" }
func (stdJSON) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (stdJSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// benchValue is the value of the engine's L2 benchmarks: a small struct
// with a 200-byte string.
func benchValue() user {
	return user{ID: 123456, Name: strings.Repeat("x", 200), Tags: []string{"users", "eu"}}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, c := range []Codec{JSON{}, stdJSON{}, MessagePack{}} {
		b.Run(c.Name(), func(b *testing.B) {
			data, err := c.Marshal(benchValue())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				var u user
				if err := c.Unmarshal(data, &u); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshal(b *testing.B) {
	for _, c := range []Codec{JSON{}, stdJSON{}, MessagePack{}} {
		b.Run(c.Name(), func(b *testing.B) {
			v := benchValue()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
