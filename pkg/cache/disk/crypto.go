package disk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/layercache/layercache/pkg/cache"
)

// mode is how a record's sections are protected. It is stored in the record
// header, and a record written in another mode than the layer's is corrupt:
// a layer with a key never accepts an unsealed or unsigned record.
type mode byte

const (
	// modePlain: each section ends with a CRC-32C of the header (and, for
	// the body, the meta section) and the section's data.
	modePlain mode = 0
	// modeSigned: each section ends with an HMAC-SHA256 over the same bytes.
	modeSigned mode = 1
	// modeSealed: each section is nonce (12) | AES-256-GCM ciphertext | tag
	// (16), with the same bytes as additional data.
	modeSealed mode = 2
)

const (
	crcLen   = 4
	macLen   = sha256.Size
	nonceLen = 12
	tagLen   = 16
)

// HKDF info strings: one derived key per purpose, so the key that names files
// is never the key that protects records.
const (
	infoRecordKey = "layercache disk v1 record"
	infoNameKey   = "layercache disk v1 file name"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileID names a record file: the first 128 bits of SHA-256(key), or of
// HMAC-SHA256(nameKey, key) when the layer has a key, so that file names do
// not reveal guessable cache keys. A collision is detected because every
// record stores its key.
type fileID [16]byte

// protector protects and verifies record sections in one mode. It is
// immutable after newProtector and safe for concurrent use.
type protector struct {
	mode    mode
	aead    cipher.AEAD // modeSealed
	macKey  []byte      // modeSigned
	nameKey []byte      // nil in modePlain
}

// newProtector builds the protector for the resolved options: sealed when
// encKey is set, signed when signKey is set, plain otherwise.
func newProtector(encKey, signKey []byte) (*protector, error) {
	switch {
	case encKey != nil:
		recordKey, nameKey, err := deriveKeys(encKey)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(recordKey)
		if err != nil {
			return nil, fmt.Errorf("disk layer: encryption key: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("disk layer: encryption key: %w", err)
		}
		return &protector{mode: modeSealed, aead: aead, nameKey: nameKey}, nil
	case signKey != nil:
		recordKey, nameKey, err := deriveKeys(signKey)
		if err != nil {
			return nil, err
		}
		return &protector{mode: modeSigned, macKey: recordKey, nameKey: nameKey}, nil
	default:
		return &protector{mode: modePlain}, nil
	}
}

func deriveKeys(secret []byte) (recordKey, nameKey []byte, err error) {
	recordKey, err = hkdf.Key(sha256.New, secret, nil, infoRecordKey, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("disk layer: derive record key: %w", err)
	}
	nameKey, err = hkdf.Key(sha256.New, secret, nil, infoNameKey, 32)
	if err != nil {
		return nil, nil, fmt.Errorf("disk layer: derive file name key: %w", err)
	}
	return recordKey, nameKey, nil
}

// fileID returns the name of key's record file.
func (p *protector) fileID(key string) fileID {
	var id fileID
	if p.nameKey == nil {
		sum := sha256.Sum256([]byte(key))
		copy(id[:], sum[:])
		return id
	}
	m := hmac.New(sha256.New, p.nameKey)
	m.Write([]byte(key))
	var sum [sha256.Size]byte
	copy(id[:], m.Sum(sum[:0]))
	return id
}

// prefixLen and suffixLen are the bytes a section adds before and after its
// data.
func (p *protector) prefixLen() int {
	if p.mode == modeSealed {
		return nonceLen
	}
	return 0
}

func (p *protector) suffixLen() int {
	switch p.mode {
	case modeSealed:
		return tagLen
	case modeSigned:
		return macLen
	default:
		return crcLen
	}
}

func (p *protector) overhead() int { return p.prefixLen() + p.suffixLen() }

// begin appends a section's prefix (a fresh random nonce when sealed) to dst.
// The caller then appends the section's data and calls finish.
func (p *protector) begin(dst []byte) []byte {
	if p.mode != modeSealed {
		return dst
	}
	n := len(dst)
	dst = append(dst, make([]byte, nonceLen)...)
	rand.Read(dst[n:]) // never fails (crypto/rand aborts the process instead)
	return dst
}

// finish protects dst[start:], the section data appended after begin, with
// aad as additional authenticated data, and returns dst extended by the
// suffix. Sealing is done in place. aad must not overlap dst[start:].
func (p *protector) finish(dst []byte, start int, aad []byte) []byte {
	data := dst[start:]
	switch p.mode {
	case modeSealed:
		dst = slices.Grow(dst, tagLen)
		data = dst[start:]
		nonce := dst[start-nonceLen : start]
		out := p.aead.Seal(data[:0], nonce, data, aad)
		return dst[:start+len(out)]
	case modeSigned:
		m := hmac.New(sha256.New, p.macKey)
		m.Write(aad)
		m.Write(data)
		return m.Sum(dst)
	default:
		sum := crc32.Update(crc32.Checksum(aad, castagnoli), castagnoli, data)
		return binary.BigEndian.AppendUint32(dst, sum)
	}
}

// open verifies a section (prefix | data | suffix) against aad and returns
// its data. When sealed, the section is decrypted in place: section's bytes
// are overwritten even on failure. Failures wrap cache.ErrCorrupt.
func (p *protector) open(section, aad []byte) ([]byte, error) {
	if len(section) < p.overhead() {
		return nil, corruptf("section of %d bytes is shorter than its %d-byte overhead", len(section), p.overhead())
	}
	switch p.mode {
	case modeSealed:
		nonce, ct := section[:nonceLen], section[nonceLen:]
		data, err := p.aead.Open(ct[:0], nonce, ct, aad)
		if err != nil {
			return nil, corruptf("authentication failed")
		}
		return data, nil
	case modeSigned:
		data, sum := section[:len(section)-macLen], section[len(section)-macLen:]
		m := hmac.New(sha256.New, p.macKey)
		m.Write(aad)
		m.Write(data)
		var want [macLen]byte
		if !hmac.Equal(m.Sum(want[:0]), sum) {
			return nil, corruptf("signature mismatch")
		}
		return data, nil
	default:
		data, sum := section[:len(section)-crcLen], section[len(section)-crcLen:]
		got := crc32.Update(crc32.Checksum(aad, castagnoli), castagnoli, data)
		if got != binary.BigEndian.Uint32(sum) {
			return nil, corruptf("checksum mismatch")
		}
		return data, nil
	}
}

// corruptf returns an error wrapping cache.ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("disk layer: %w: "+format, append([]any{cache.ErrCorrupt}, args...)...)
}
