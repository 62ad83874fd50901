package cache

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on keys and tags, in bytes.
const (
	// MaxKeyLen is the longest key, tag, prefix or pattern accepted.
	MaxKeyLen = 1024
	// MaxTags is the most tags one entry can carry.
	MaxTags = 128
)

// ValidateKey reports whether key is usable as a cache key: non-empty, at
// most MaxKeyLen bytes, valid UTF-8, and free of control characters
// (U+0000–U+001F, U+007F). The error wraps ErrInvalidKey.
//
// Error messages quote a copy of the input, so that the key passed in never
// escapes to the heap: validation is on the L1 hit path.
func ValidateKey(key string) error {
	return validateName("key", key)
}

// ValidateTag applies the key rules to a tag.
func ValidateTag(tag string) error {
	return validateName("tag", tag)
}

func validateName(what, s string) error {
	if len(s) == 0 {
		return fmt.Errorf("%w: %s must not be empty", ErrInvalidKey, what)
	}
	if len(s) > MaxKeyLen {
		return fmt.Errorf("%w: %s is %d bytes, at most %d are allowed", ErrInvalidKey, what, len(s), MaxKeyLen)
	}
	if plainASCII(s) {
		return nil // the common case, checked 8 bytes at a time
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: %s %.64q contains control character %#02x at byte %d", ErrInvalidKey, what, strings.Clone(s), c, i)
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %.64q is not valid UTF-8", ErrInvalidKey, what, strings.Clone(s))
	}
	return nil
}

// plainASCII reports whether every byte of s is printable ASCII
// (0x20..0x7e). It tests 8 bytes per step: a byte b is outside the range
// when b < 0x20, b >= 0x80, or b == 0x7f.
func plainASCII(s string) bool {
	const (
		lo   = 0x0101010101010101
		hi   = 0x8080808080808080
		low  = lo * 0x20 // bytes of 0x20
		del  = lo * 0x7f // bytes of 0x7f
		high = hi
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// (w - 0x20..) sets a byte's high bit when the byte is below 0x20
		// (or already has it set); w itself flags bytes >= 0x80; xor with
		// 0x7f turns 0x7f bytes into zero, which the first test catches.
		if (w-low)&^w&high != 0 || w&high != 0 {
			return false
		}
		if x := w ^ del; (x-lo)&^x&high != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// validateTags checks every tag and the tag count.
func validateTags(tags []string) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("%w: %d tags, at most %d are allowed", ErrInvalidKey, len(tags), MaxTags)
	}
	for _, t := range tags {
		if err := ValidateTag(t); err != nil {
			return err
		}
	}
	return nil
}
