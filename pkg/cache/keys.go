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
