package redisflight

import (
	"errors"
	"strconv"
	"strings"

	"github.com/layercache/layercache/pkg/cache"
)

// A stored result (a record) is one Redis string:
//
//	<fencing token>:<flags>:<length of Err>:<Err><Payload>
//
// with the three numbers in decimal. The fencing token leads so that
// luaClaim can compare it without decoding the rest.

// Record flags, a decimal bit set.
const (
	flagNotFound = 1 << iota // Result.NotFound
	flagTooLarge             // the result exceeded MaxResultBytes and was not stored
)

// errBadRecord reports a stored result that does not decode.
var errBadRecord = errors.New("malformed result record")

// encodeRecord encodes r under the fencing token fence. A result larger
// than maxBytes (Payload plus Err) is replaced by a marker telling waiters
// to fetch for themselves.
func encodeRecord(fence string, r cache.Result, maxBytes int) []byte {
	flags := 0
	if r.NotFound {
		flags |= flagNotFound
	}
	if len(r.Payload)+len(r.Err) > maxBytes {
		flags = flagTooLarge
		r = cache.Result{}
	}
	b := make([]byte, 0, len(fence)+len(r.Err)+len(r.Payload)+16)
	b = append(b, fence...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(flags), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(len(r.Err)), 10)
	b = append(b, ':')
	b = append(b, r.Err...)
	return append(b, r.Payload...)
}

// record is a decoded stored result.
type record struct {
	result   cache.Result
	tooLarge bool
}

// decodeRecord decodes s. The Payload is a new slice owned by the caller
// (nil when empty).
func decodeRecord(s string) (record, error) {
	var fields [3]int
	for i := range fields {
		head, rest, ok := strings.Cut(s, ":")
		if !ok {
			return record{}, errBadRecord
		}
		n, err := strconv.Atoi(head)
		if err != nil || n < 0 {
			return record{}, errBadRecord
		}
		fields[i], s = n, rest
	}
	flags, errLen := fields[1], fields[2]
	if flags&^(flagNotFound|flagTooLarge) != 0 || errLen > len(s) {
		return record{}, errBadRecord
	}
	var rec record
	rec.tooLarge = flags&flagTooLarge != 0
	rec.result.NotFound = flags&flagNotFound != 0
	rec.result.Err = s[:errLen]
	if p := s[errLen:]; p != "" {
		rec.result.Payload = []byte(p)
	}
	return rec, nil
}
