package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Codec names accepted by --codec, as pkg/cache/codec names them.
const (
	codecJSON    = "json"
	codecMsgpack = "msgpack"
)

// maxPreviewDepth bounds how deeply nested a payload may be for inspect to
// decode it. The MessagePack decoder recurses once per level and has no
// limit of its own, so a hostile value could otherwise exhaust the stack.
const maxPreviewDepth = 1000

// payloadJSON decodes a payload written with the named codec and returns
// it as compact JSON. MessagePack is decoded into untyped Go values (maps,
// slices, numbers, strings, byte slices shown as base64) first.
func payloadJSON(codecName string, payload []byte) (json.RawMessage, error) {
	switch codecName {
	case codecJSON:
		// Valid bounds the nesting depth (encoding/json stops at 10,000).
		if !json.Valid(payload) {
			return nil, errors.New("the payload is not JSON (written with --codec msgpack?)")
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, payload); err != nil {
			return nil, fmt.Errorf("compact JSON: %w", err)
		}
		return buf.Bytes(), nil
	case codecMsgpack:
		if err := checkMsgpack(payload, maxPreviewDepth); err != nil {
			return nil, fmt.Errorf("the payload is not MessagePack (written with --codec json?): %w", err)
		}
		dec := msgpack.NewDecoder(bytes.NewReader(payload))
		dec.SetMapDecoder(func(d *msgpack.Decoder) (any, error) { return d.DecodeUntypedMap() })
		v, err := dec.DecodeInterface()
		if err != nil {
			return nil, fmt.Errorf("decode MessagePack: %w", err)
		}
		out, err := json.Marshal(jsonable(v))
		if err != nil {
			return nil, fmt.Errorf("show MessagePack as JSON: %w", err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unknown codec %q", codecName)
	}
}

// jsonable converts what the MessagePack decoder returns into values
// encoding/json accepts: maps with non-string keys get their keys printed.
// checkMsgpack has bounded the depth of v.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, val := range v {
			ks, ok := k.(string)
			if !ok {
				ks = fmt.Sprint(k)
			}
			m[ks] = jsonable(val)
		}
		return m
	case map[string]any:
		for k, val := range v {
			v[k] = jsonable(val)
		}
		return v
	case []any:
		for i, val := range v {
			v[i] = jsonable(val)
		}
		return v
	default:
		return v
	}
}

// errTruncated is returned by checkMsgpack for input that ends inside an
// object.
var errTruncated = errors.New("truncated")

// checkMsgpack checks that b is exactly one well-formed MessagePack object
// whose containers nest at most maxDepth deep, without recursion and
// without allocating in proportion to any length it reads.
func checkMsgpack(b []byte, maxDepth int) error {
	// pending[i] is how many more objects the i-th open container holds;
	// pending[0] stands for the top-level object.
	pending := []int{1}
	i := 0
	for len(pending) > 0 {
		top := len(pending) - 1
		if pending[top] == 0 {
			pending = pending[:top]
			continue
		}
		pending[top]--
		if i >= len(b) {
			return errTruncated
		}
		c := b[i]
		i++
		skip, count, err := msgpackHeader(c, b[i:])
		if err != nil {
			return err
		}
		if skip > len(b)-i {
			return errTruncated
		}
		i += skip
		if count > 0 {
			if count > len(b)-i { // every object takes at least one byte
				return errTruncated
			}
			if len(pending) > maxDepth {
				return fmt.Errorf("nested more than %d levels deep", maxDepth)
			}
			pending = append(pending, count)
		}
	}
	if i != len(b) {
		return fmt.Errorf("%d trailing bytes", len(b)-i)
	}
	return nil
}

// msgpackHeader reads the header of an object whose first byte is c and
// whose following bytes are rest. It returns how many bytes follow c before
// the next object (length fields and data) and, for a container, how many
// objects it holds (a map's keys and values both count).
func msgpackHeader(c byte, rest []byte) (skip, count int, err error) {
	// length reads an n-byte big-endian length at the start of rest.
	length := func(n int) (int, error) {
		if len(rest) < n {
			return 0, errTruncated
		}
		switch n {
		case 1:
			return int(rest[0]), nil
		case 2:
			return int(binary.BigEndian.Uint16(rest)), nil
		default:
			return int(binary.BigEndian.Uint32(rest)), nil
		}
	}
	var n int
	switch {
	case c <= 0x7f, c >= 0xe0: // positive and negative fixint
		return 0, 0, nil
	case c <= 0x8f: // fixmap
		return 0, 2 * int(c&0x0f), nil
	case c <= 0x9f: // fixarray
		return 0, int(c & 0x0f), nil
	case c <= 0xbf: // fixstr
		return int(c & 0x1f), 0, nil
	}
	switch c {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return 0, 0, nil
	case 0xc4, 0xd9: // bin 8, str 8
		n, err = length(1)
		return 1 + n, 0, err
	case 0xc5, 0xda: // bin 16, str 16
		n, err = length(2)
		return 2 + n, 0, err
	case 0xc6, 0xdb: // bin 32, str 32
		n, err = length(4)
		return 4 + n, 0, err
	case 0xc7: // ext 8: length, type, data
		n, err = length(1)
		return 2 + n, 0, err
	case 0xc8: // ext 16
		n, err = length(2)
		return 3 + n, 0, err
	case 0xc9: // ext 32
		n, err = length(4)
		return 5 + n, 0, err
	case 0xca, 0xce, 0xd2: // float 32, uint 32, int 32
		return 4, 0, nil
	case 0xcb, 0xcf, 0xd3: // float 64, uint 64, int 64
		return 8, 0, nil
	case 0xcc, 0xd0: // uint 8, int 8
		return 1, 0, nil
	case 0xcd, 0xd1: // uint 16, int 16
		return 2, 0, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type, data
		return 1 + 1<<(c-0xd4), 0, nil
	case 0xdc: // array 16
		n, err = length(2)
		return 2, n, err
	case 0xdd: // array 32
		n, err = length(4)
		return 4, n, err
	case 0xde: // map 16
		n, err = length(2)
		return 2, 2 * n, err
	case 0xdf: // map 32
		n, err = length(4)
		return 4, 2 * n, err
	default: // 0xc1 is never used
		return 0, 0, fmt.Errorf("invalid type byte %#02x", c)
	}
}
