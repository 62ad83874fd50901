package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"unicode/utf8"
)

// The envelope is the versioned binary form of an Entry that byte layers
// (Redis, disk) store:
//
//	magic "LC" | version (1) | flags (1) | [freshUntil int64] [staleUntil int64] [errorUntil int64]
//	| uvarint tag count | (uvarint len | tag bytes)* | payload | crc32c of everything before it (4)
//
// Deadlines are big-endian and present only when their flag bit is set. The
// decoder trusts no length: every count is checked against the bytes left and
// against MaxTags / MaxKeyLen, so a corrupt or hostile record is an error,
// never a panic or a huge allocation.
const (
	envelopeMagic0  = 'L'
	envelopeMagic1  = 'C'
	envelopeVersion = 1

	flagNegative = 1 << 0
	flagFresh    = 1 << 1
	flagStale    = 1 << 2
	flagError    = 1 << 3
	flagKnown    = flagNegative | flagFresh | flagStale | flagError

	envelopeHeaderLen = 4
	envelopeCRCLen    = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is returned (wrapped) by ParseEntry for data that is not a valid
// envelope. Layers treat it as a miss.
var ErrCorrupt = errors.New("cache: corrupt entry")

// AppendEntry appends the envelope encoding of e (without e.Value) to dst and
// returns the extended slice.
func AppendEntry(dst []byte, e *Entry) []byte {
	var flags byte
	if e.Negative {
		flags |= flagNegative
	}
	if e.FreshUntil != 0 {
		flags |= flagFresh
		if e.StaleUntil != 0 {
			flags |= flagStale
		}
		if e.ErrorUntil != 0 {
			flags |= flagError
		}
	}
	start := len(dst)
	dst = append(dst, envelopeMagic0, envelopeMagic1, envelopeVersion, flags)
	if flags&flagFresh != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.FreshUntil))
	}
	if flags&flagStale != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.StaleUntil))
	}
	if flags&flagError != 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.ErrorUntil))
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Tags)))
	for _, t := range e.Tags {
		dst = binary.AppendUvarint(dst, uint64(len(t)))
		dst = append(dst, t...)
	}
	if !e.Negative {
		dst = append(dst, e.Payload...)
	}
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// EntrySize is the length AppendEntry will produce for e.
func EntrySize(e *Entry) int {
	n := envelopeHeaderLen + envelopeCRCLen
	if e.FreshUntil != 0 {
		n += 8
		if e.StaleUntil != 0 {
			n += 8
		}
		if e.ErrorUntil != 0 {
			n += 8
		}
	}
	n += uvarintLen(uint64(len(e.Tags)))
	for _, t := range e.Tags {
		n += uvarintLen(uint64(len(t))) + len(t)
	}
	if !e.Negative {
		n += len(e.Payload)
	}
	return n
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// ParseEntry decodes an envelope produced by AppendEntry. The returned
// entry's Payload aliases b; copy it if b will be reused. Any malformed input
// yields an error wrapping ErrCorrupt.
func ParseEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) < envelopeHeaderLen+envelopeCRCLen+1 {
		return e, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, len(b))
	}
	if b[0] != envelopeMagic0 || b[1] != envelopeMagic1 {
		return e, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if b[2] != envelopeVersion {
		return e, fmt.Errorf("%w: unsupported version %d", ErrCorrupt, b[2])
	}
	body, sum := b[:len(b)-envelopeCRCLen], b[len(b)-envelopeCRCLen:]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(sum) {
		return e, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	flags := b[3]
	if flags&^flagKnown != 0 {
		return e, fmt.Errorf("%w: unknown flags %#x", ErrCorrupt, flags)
	}
	if flags&flagFresh == 0 && flags&(flagStale|flagError) != 0 {
		return e, fmt.Errorf("%w: stale window without a fresh deadline", ErrCorrupt)
	}
	p := body[envelopeHeaderLen:]
	readDeadline := func(bit byte) (int64, bool) {
		if flags&bit == 0 {
			return 0, true
		}
		if len(p) < 8 {
			return 0, false
		}
		v := int64(binary.BigEndian.Uint64(p))
		p = p[8:]
		return v, v > 0
	}
	var ok1, ok2, ok3 bool
	e.FreshUntil, ok1 = readDeadline(flagFresh)
	e.StaleUntil, ok2 = readDeadline(flagStale)
	e.ErrorUntil, ok3 = readDeadline(flagError)
	if !ok1 || !ok2 || !ok3 {
		return Entry{}, fmt.Errorf("%w: bad deadline", ErrCorrupt)
	}
	if (e.StaleUntil != 0 && e.StaleUntil < e.FreshUntil) || (e.ErrorUntil != 0 && e.ErrorUntil < e.FreshUntil) {
		return Entry{}, fmt.Errorf("%w: stale window ends before freshness", ErrCorrupt)
	}
	n, w := binary.Uvarint(p)
	if w <= 0 || n > MaxTags {
		return Entry{}, fmt.Errorf("%w: bad tag count", ErrCorrupt)
	}
	p = p[w:]
	if n > 0 {
		e.Tags = make([]string, 0, n)
		for range n {
			l, w := binary.Uvarint(p)
			if w <= 0 || l == 0 || l > MaxKeyLen || l > uint64(len(p)-w) {
				return Entry{}, fmt.Errorf("%w: bad tag length", ErrCorrupt)
			}
			tag := p[w : w+int(l)]
			if !utf8.Valid(tag) {
				return Entry{}, fmt.Errorf("%w: tag is not UTF-8", ErrCorrupt)
			}
			e.Tags = append(e.Tags, string(tag))
			p = p[w+int(l):]
		}
	}
	if flags&flagNegative != 0 {
		if len(p) != 0 {
			return Entry{}, fmt.Errorf("%w: negative entry with a payload", ErrCorrupt)
		}
		e.Negative = true
		return e, nil
	}
	e.Payload = p
	return e, nil
}
