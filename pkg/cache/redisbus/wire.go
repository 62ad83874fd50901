package redisbus

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/layercache/layercache/pkg/cache"
)

// Constants of the wire format, version 1, specified in the package
// documentation (doc.go).
const (
	wireVersion = 1
	flagSigned  = 1 << 0

	idSize  = 16
	macSize = sha256.Size
	// headerSize covers version, flags, id, kind and timestamp.
	headerSize = 1 + 1 + idSize + 1 + 8
)

// frame is one message on the wire.
type frame struct {
	id     [idSize]byte
	sender string
	ts     int64 // Unix milliseconds
	msg    cache.BusMessage
	signed bool // set by decode; encode signs when given a secret
}

// hasKeys reports whether messages of kind k carry keys.
func hasKeys(k cache.BusKind) bool {
	return k == cache.BusDelete || k == cache.BusExpire || k == cache.BusWrite
}

// validKind reports whether k is a kind this version knows.
func validKind(k cache.BusKind) bool {
	return k >= cache.BusDelete && k <= cache.BusGeneration
}

// uvLen is the length of v as a shortest unsigned varint.
func uvLen(v uint64) int {
	return (bits.Len64(v|1) + 6) / 7
}

// strLen is the encoded size of a length-prefixed string.
func strLen(s string) int {
	return uvLen(uint64(len(s))) + len(s)
}

// overhead is the encoded size of a message from sender with m's prefix and
// generation and no keys, except that the key count is sized for nkeys, and
// the MAC is included when signed.
func overhead(sender string, m *cache.BusMessage, nkeys int, signed bool) int {
	n := headerSize + strLen(sender) + uvLen(m.Generation) + strLen(m.Prefix) + uvLen(uint64(nkeys))
	if signed {
		n += macSize
	}
	return n
}

// encode appends f's encoding to dst, signed with secret over channel when
// secret is not nil.
func encode(dst []byte, f *frame, secret []byte, channel string) []byte {
	start := len(dst)
	var flags byte
	if secret != nil {
		flags |= flagSigned
	}
	dst = append(dst, wireVersion, flags)
	dst = append(dst, f.id[:]...)
	dst = append(dst, byte(f.msg.Kind))
	dst = binary.BigEndian.AppendUint64(dst, uint64(f.ts))
	dst = appendString(dst, f.sender)
	dst = binary.AppendUvarint(dst, f.msg.Generation)
	dst = appendString(dst, f.msg.Prefix)
	dst = binary.AppendUvarint(dst, uint64(len(f.msg.Keys)))
	for _, k := range f.msg.Keys {
		dst = appendString(dst, k)
	}
	if secret != nil {
		dst = appendMAC(dst, secret, channel, dst[start:])
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendMAC appends the MAC of body sent on channel.
func appendMAC(dst, secret []byte, channel string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(channel)))])
	h.Write([]byte(channel))
	h.Write(body)
	return h.Sum(dst)
}

// verify reports whether mac is the MAC of body sent on channel, in
// constant time.
func verify(secret []byte, channel string, body, mac []byte) bool {
	want := appendMAC(make([]byte, 0, macSize), secret, channel, body)
	return hmac.Equal(want, mac)
}

// decode parses p. For a signed message it also returns the signed bytes
// and the MAC, for verify. Errors wrap ErrMalformed. It never panics and
// allocates in proportion to len(p). The returned frame does not share
// memory with p.
func decode(p []byte) (f frame, body, mac []byte, err error) {
	r := reader{b: p}
	if v := r.u8(); v != wireVersion {
		return frame{}, nil, nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, v, wireVersion)
	}
	flags := r.u8()
	if flags&^flagSigned != 0 {
		return frame{}, nil, nil, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, flags)
	}
	f.signed = flags&flagSigned != 0
	copy(f.id[:], r.fixed(idSize))
	f.msg.Kind = cache.BusKind(r.u8())
	f.ts = int64(r.u64())
	f.sender = r.str()
	f.msg.Generation = r.uvarint()
	f.msg.Prefix = r.str()
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) { // every key takes at least one byte
		r.fail("key count %d exceeds the remaining %d bytes", n, len(r.b))
	}
	if r.err == nil && n > 0 {
		f.msg.Keys = make([]string, 0, n)
		for range n {
			k := r.str()
			if r.err != nil {
				break
			}
			f.msg.Keys = append(f.msg.Keys, k)
		}
	}
	if f.signed && r.err == nil {
		body = p[:len(p)-len(r.b)]
		mac = r.fixed(macSize)
	}
	switch {
	case r.err != nil:
		return frame{}, nil, nil, r.err
	case len(r.b) != 0:
		return frame{}, nil, nil, fmt.Errorf("%w: %d bytes after the last field", ErrMalformed, len(r.b))
	}
	if err := checkShape(&f); err != nil {
		return frame{}, nil, nil, err
	}
	return f, body, mac, nil
}

// checkShape applies the rules a decoded message must follow beyond its
// syntax.
func checkShape(f *frame) error {
	switch {
	case !validKind(f.msg.Kind):
		return fmt.Errorf("%w: unknown kind %d", ErrMalformed, f.msg.Kind)
	case f.sender == "" || len(f.sender) > MaxInstanceIDBytes:
		return fmt.Errorf("%w: sender is %d bytes, want 1 to %d", ErrMalformed, len(f.sender), MaxInstanceIDBytes)
	case hasKeys(f.msg.Kind) && len(f.msg.Keys) == 0:
		return fmt.Errorf("%w: %s message without keys", ErrMalformed, f.msg.Kind)
	case !hasKeys(f.msg.Kind) && len(f.msg.Keys) != 0:
		return fmt.Errorf("%w: %s message with %d keys", ErrMalformed, f.msg.Kind, len(f.msg.Keys))
	}
	return nil
}

// reader consumes a message front to back. After the first failure every
// method returns zero values and err keeps that failure.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (r *reader) fixed(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.fail("truncated: %d bytes left, %d needed", len(r.b), n)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if v := r.fixed(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.fixed(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	switch {
	case n == 0:
		r.fail("truncated varint")
		return 0
	case n < 0:
		r.fail("varint overflows 64 bits")
		return 0
	case n != uvLen(v):
		r.fail("varint %d not in its shortest form", v)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.fail("string of %d bytes, %d left", n, len(r.b))
	}
	return string(r.fixed(int(n)))
}
