// Package codec turns Go values into bytes and back for the layers that store
// bytes (Redis, disk). A Stack uses one Codec for every layer; JSON is the
// default, MessagePack is smaller and faster for most values, and users may
// supply their own.
//
// Codecs must be safe for concurrent use. Marshal returns a slice the caller
// owns; Unmarshal must not retain data.
package codec

import (
	"bytes"
	"encoding/json"
	"fmt"

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

// JSON is the default codec: encoding/json, with HTML escaping off so the
// stored bytes are exactly what an HTTP client would send.
type JSON struct{}

// Name returns "json".
func (JSON) Name() string { return "json" }

// Marshal encodes v as JSON without a trailing newline.
func (JSON) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("json codec: marshal %T: %w", v, err)
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // drop Encode's newline
}

// Unmarshal decodes JSON into v.
func (JSON) Unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
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
	enc := msgpack.NewEncoder(&buf)
	enc.SetCustomStructTag("json")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("msgpack codec: marshal %T: %w", v, err)
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes MessagePack into v. Trailing bytes are an error, so a
// truncated or concatenated record is never half-read.
func (MessagePack) Unmarshal(data []byte, v any) error {
	r := bytes.NewReader(data)
	dec := msgpack.NewDecoder(r)
	dec.SetCustomStructTag("json")
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("msgpack codec: unmarshal into %T: %w", v, err)
	}
	if r.Len() != 0 {
		return fmt.Errorf("msgpack codec: unmarshal into %T: %d trailing bytes", v, r.Len())
	}
	return nil
}
