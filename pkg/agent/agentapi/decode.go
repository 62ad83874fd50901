package agentapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrBodyTooLarge is wrapped by Decode's error when the body exceeds the
// limit.
var ErrBodyTooLarge = errors.New("agentapi: body too large")

// ErrEmptyBody is returned by Decode when the body is empty.
var ErrEmptyBody = errors.New("agentapi: empty body")

// Decode reads one JSON document of type T from r, at most limit bytes.
// It rejects unknown fields, trailing data after the document and
// oversized bodies (an error wrapping ErrBodyTooLarge); an empty body is
// ErrEmptyBody. Other errors describe the JSON problem.
func Decode[T any](r io.Reader, limit int64) (T, error) {
	var v T
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return v, fmt.Errorf("agentapi: read body: %w", err)
	}
	if int64(len(data)) > limit {
		return v, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return v, ErrEmptyBody
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("agentapi: decode: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return v, errors.New("agentapi: decode: unexpected data after the JSON document")
	}
	return v, nil
}
