// Package codec turns Go values into bytes and back for the layers that store
// bytes (Redis, disk). A Stack uses one Codec for every layer; JSON is the
// default (readable from any language), MessagePack is smaller, and users
// may supply their own.
//
// Codecs must be safe for concurrent use. Marshal returns a slice the caller
// owns; Unmarshal must not retain data.
package codec

import (
	"bytes"
	"fmt"

	fastjson "github.com/segmentio/encoding/json"
	"github.com/vmihailenco/msgpack/v5"
)

// Codec encodes and decodes values.
type Codec interface {
	// Name identifies the codec in errors and diagnostics.
	Name() string
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value pointed to by v.
	Unmarshal(data []byte, v any) error
}

// JSON is the default codec. It writes and reads exactly what encoding/json
// does (HTML escaping off, so the stored bytes are what an HTTP client would
// send; map keys sorted; invalid UTF-8 replaced), through
// github.com/segmentio/encoding/json, a drop-in implementation of the
// standard package that decodes several times faster: decoding is most of
// the Stack's own cost on an L2 hit (see docs/benchmarks.md). The codec's
// tests hold it to the standard package's output and errors.
type JSON struct{}

// Name returns "json".
func (JSON) Name() string { return "json" }

// Marshal encodes v as JSON without a trailing newline.
func (JSON) Marshal(v any) ([]byte, error) {
	// Encoding into a scratch buffer and copying the result out costs two
	// allocations; appending to nil would grow the slice step by step.
	var scratch [512]byte
	b, err := fastjson.Append(scratch[:0], v, fastjson.SortMapKeys)
	if err != nil {
		return nil, fmt.Errorf("json codec: marshal %T: %w", v, err)
	}
	return bytes.Clone(b), nil
}

// Unmarshal decodes JSON into v. Trailing data other than white space is an
// error, as in encoding/json. On an error v may be partly written.
func (JSON) Unmarshal(data []byte, v any) error {
	if err := fastjson.Unmarshal(data, v); err != nil {
		return fmt.Errorf("json codec: unmarshal into %T: %w", v, err)
	}
	return nil
}

// MessagePack encodes with github.com/vmihailenco/msgpack/v5. Struct fields
// use their `msgpack` tags, falling back to `json` tags, so types already
// tagged for JSON keep their field names.
type MessagePack struct{}

// Name returns "msgpack".
func (MessagePack) Name() string { return "msgpack" }

// Marshal encodes v as MessagePack.
func (MessagePack) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.GetEncoder() // from msgpack's pool, as in Unmarshal
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	enc.SetCustomStructTag("json")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("msgpack codec: marshal %T: %w", v, err)
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes MessagePack into v. Trailing bytes are an error, so a
// truncated or concatenated record is never half-read. Decoders come from
// msgpack's pool: a new one costs more than decoding a small value.
// Collections are grown as they are read, never sized from a length in the
// data, so a corrupt length cannot make it allocate more than data holds.
func (MessagePack) Unmarshal(data []byte, v any) error {
	r := bytes.NewReader(data)
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(r)
	dec.SetCustomStructTag("json")
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("msgpack codec: unmarshal into %T: %w", v, err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("msgpack codec: unmarshal into %T: %d trailing bytes", v, r.Len())
	}
	return nil
}
