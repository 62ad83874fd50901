package disk

import (
	"encoding/binary"

	"github.com/layercache/layercache/pkg/cache"
)

// A record file is
//
//	header (8): "LCD" | version (1) | mode (1) | reserved, 0 (1) | meta section length, uint16 BE
//	meta section: protect(expiresAt int64 BE | key bytes), aad = header
//	body section: protect(cache.AppendEntry envelope), aad = header | meta section
//
// where protect is the layer's mode (see mode): data followed by a CRC-32C
// (plain) or an HMAC-SHA256 (signed), or nonce | AES-256-GCM ciphertext | tag
// (sealed). The meta section is verified on its own, so New rebuilds the
// index by reading only the first bytes of each file; the body's additional
// data binds it to that header and key. The envelope keeps its own CRC-32C.
//
// The decoder trusts no length: every field is checked against the bytes
// present and against cache.MaxKeyLen, and any malformed record is an error
// wrapping cache.ErrCorrupt, never a panic.
const (
	recordVersion = 1
	headerLen     = 8
	metaFixedLen  = 8 // expiresAt
	maxMetaData   = metaFixedLen + cache.MaxKeyLen
	// minEnvelopeLen is the shortest envelope cache.ParseEntry accepts.
	minEnvelopeLen = 9
)

var recordMagic = [3]byte{'L', 'C', 'D'}

// meta is what the index needs from a record.
type meta struct {
	key       string
	expiresAt int64 // Unix nanoseconds, 0: never
}

// maxMetaSection is the longest valid meta section.
func (p *protector) maxMetaSection() int { return maxMetaData + p.overhead() }

// maxHeadLen is how many bytes of a file hold at most its header and meta
// section: what New reads of each file.
func (p *protector) maxHeadLen() int { return headerLen + p.maxMetaSection() }

// recordLen is the length of the record encodeRecord writes.
func (p *protector) recordLen(key string, envLen int) int {
	return headerLen + metaFixedLen + len(key) + envLen + 2*p.overhead()
}

// maxRecordLen is the longest record holding an envelope of at most
// maxEnvelope bytes.
func (p *protector) maxRecordLen(maxEnvelope int) int64 {
	return int64(p.maxHeadLen()) + int64(maxEnvelope) + int64(p.overhead())
}

// encodeRecord returns the record for key and e; expiresAt is e.ExpiresAt().
// key must be valid (at most cache.MaxKeyLen bytes).
func (p *protector) encodeRecord(key string, e *cache.Entry, expiresAt int64) []byte {
	metaLen := metaFixedLen + len(key) + p.overhead()
	b := make([]byte, 0, p.recordLen(key, cache.EntrySize(e)))
	b = append(b, recordMagic[0], recordMagic[1], recordMagic[2], recordVersion, byte(p.mode), 0)
	b = binary.BigEndian.AppendUint16(b, uint16(metaLen))

	b = p.begin(b)
	start := len(b)
	b = binary.BigEndian.AppendUint64(b, uint64(expiresAt))
	b = append(b, key...)
	b = p.finish(b, start, b[:headerLen])

	bodyAAD := b[:len(b):len(b)]
	b = p.begin(b)
	start = len(b)
	b = cache.AppendEntry(b, e)
	return p.finish(b, start, bodyAAD)
}

// parseHeader checks the header in b and returns where the body section
// starts. b must hold at least the header and the meta section.
func (p *protector) parseHeader(b []byte) (bodyStart int, err error) {
	if len(b) < headerLen {
		return 0, corruptf("record of %d bytes has no header", len(b))
	}
	if b[0] != recordMagic[0] || b[1] != recordMagic[1] || b[2] != recordMagic[2] {
		return 0, corruptf("bad magic")
	}
	if b[3] != recordVersion {
		return 0, corruptf("unsupported record version %d", b[3])
	}
	if mode(b[4]) != p.mode {
		return 0, corruptf("record mode %d, layer mode %d", b[4], p.mode)
	}
	if b[5] != 0 {
		return 0, corruptf("reserved byte is %#x", b[5])
	}
	metaLen := int(binary.BigEndian.Uint16(b[6:8]))
	if metaLen < metaFixedLen+1+p.overhead() || metaLen > p.maxMetaSection() {
		return 0, corruptf("meta section length %d out of range", metaLen)
	}
	if len(b) < headerLen+metaLen {
		return 0, corruptf("record of %d bytes is shorter than its %d-byte meta section", len(b), metaLen)
	}
	return headerLen + metaLen, nil
}

// decodeMeta verifies the header and meta section at the start of b (a
// whole record or a prefix of at least maxHeadLen bytes, or the whole file
// when shorter). Sealed meta sections are decrypted in place.
func (p *protector) decodeMeta(b []byte) (meta, int, error) {
	bodyStart, err := p.parseHeader(b)
	if err != nil {
		return meta{}, 0, err
	}
	data, err := p.open(b[headerLen:bodyStart], b[:headerLen])
	if err != nil {
		return meta{}, 0, err
	}
	m, err := parseMeta(data)
	return m, bodyStart, err
}

func parseMeta(data []byte) (meta, error) {
	if len(data) <= metaFixedLen {
		return meta{}, corruptf("meta section holds no key")
	}
	expiresAt := int64(binary.BigEndian.Uint64(data))
	if expiresAt < 0 {
		return meta{}, corruptf("negative expiry")
	}
	key := string(data[metaFixedLen:])
	if err := cache.ValidateKey(key); err != nil {
		return meta{}, corruptf("stored key: %v", err)
	}
	return meta{key: key, expiresAt: expiresAt}, nil
}

// decodeRecord verifies a whole record and returns its key and entry. The
// entry's Payload aliases b, which is modified in place when sealed.
func (p *protector) decodeRecord(b []byte) (string, cache.Entry, error) {
	bodyStart, err := p.parseHeader(b)
	if err != nil {
		return "", cache.Entry{}, err
	}
	if len(b)-bodyStart < minEnvelopeLen+p.overhead() {
		return "", cache.Entry{}, corruptf("body of %d bytes is too short", len(b)-bodyStart)
	}
	// Open the body first: decrypting the meta section in place would
	// change the body's additional data.
	env, err := p.open(b[bodyStart:], b[:bodyStart])
	if err != nil {
		return "", cache.Entry{}, err
	}
	data, err := p.open(b[headerLen:bodyStart], b[:headerLen])
	if err != nil {
		return "", cache.Entry{}, err
	}
	m, err := parseMeta(data)
	if err != nil {
		return "", cache.Entry{}, err
	}
	e, err := cache.ParseEntry(env)
	if err != nil {
		return "", cache.Entry{}, corruptf("envelope: %v", err)
	}
	if e.ExpiresAt() != m.expiresAt {
		return "", cache.Entry{}, corruptf("meta expiry %d does not match the entry's %d", m.expiresAt, e.ExpiresAt())
	}
	return m.key, e, nil
}
