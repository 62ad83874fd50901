package agentapi

import (
	"errors"
	"fmt"
)

// MaxUIDLen is the longest uid of an invalidation or a snapshot.
const MaxUIDLen = 253

// ValidateUID checks that uid is a DNS-1123-style name: 1 to 253
// characters from a-z, 0-9, '-' and '.', starting and ending with a letter
// or digit, with no "..". Kubernetes uids (UUIDs) pass. Such a name is
// safe as a file name: it cannot hold a path separator nor be "." or "..".
func ValidateUID(uid string) error {
	if uid == "" {
		return errors.New("must not be empty")
	}
	if len(uid) > MaxUIDLen {
		return fmt.Errorf("is %d characters, at most %d are allowed", len(uid), MaxUIDLen)
	}
	for i := 0; i < len(uid); i++ {
		c := uid[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' || c == '.':
			if i == 0 || i == len(uid)-1 {
				return fmt.Errorf("%q must start and end with a lower-case letter or digit", uid)
			}
			if c == '.' && uid[i-1] == '.' {
				return fmt.Errorf("%q must not contain \"..\"", uid)
			}
		default:
			return fmt.Errorf("%.64q may contain only a-z, 0-9, '-' and '.'", uid)
		}
	}
	return nil
}
