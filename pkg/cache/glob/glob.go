package glob

import (
	"fmt"
	"unicode/utf8"
)

// MaxLen is the longest pattern, in bytes, that Compile accepts.
const MaxLen = 1024

// Pattern is a compiled wildcard pattern. It is immutable and safe for
// concurrent use. Build one with Compile; the zero Pattern matches only the
// empty string.
type Pattern struct {
	src    string
	prefix string // unescaped literal text before the first wildcard
	tail   []op   // the pattern after prefix; empty when the pattern is literal
	wild   bool   // the pattern has at least one unescaped * or ?
}

// opKind says what one element of a compiled pattern matches.
type opKind uint8

const (
	opByte opKind = iota // one byte equal to op.b
	opAny                // one rune (?)
	opStar               // any run of bytes (*)
)

// op is one element of a compiled pattern. A literal rune of n bytes
// compiles to n opByte elements.
type op struct {
	kind opKind
	b    byte
}

// Compile parses pattern (see the package documentation for the syntax).
// It returns an error wrapping ErrInvalid when pattern is empty, longer
// than MaxLen bytes, not valid UTF-8, contains a control character
// (U+0000–U+001F or U+007F, escaped or not) or ends in a lone `\`.
// Consecutive stars are merged; they match the same keys as one star.
func Compile(pattern string) (*Pattern, error) {
	if err := validate(pattern); err != nil {
		return nil, err
	}
	p := &Pattern{src: pattern}
	var lit []byte // unescaped literal prefix, while no wildcard is seen
	var ops []op   // the rest of the pattern, from the first wildcard on
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '*', '?':
			p.wild = true
			kind := opAny
			if c == '*' {
				kind = opStar
				if n := len(ops); n > 0 && ops[n-1].kind == opStar {
					continue
				}
			}
			ops = append(ops, op{kind: kind})
		case '\\':
			i++
			if i == len(pattern) {
				return nil, fmt.Errorf("%w: trailing backslash escapes nothing", ErrInvalid)
			}
			// The escaped character is a whole rune: copy all its bytes.
			_, n := utf8.DecodeRuneInString(pattern[i:])
			for j := range n {
				lit, ops = appendLiteral(lit, ops, p.wild, pattern[i+j])
			}
			i += n - 1
		default:
			lit, ops = appendLiteral(lit, ops, p.wild, c)
		}
	}
	p.prefix = string(lit)
	p.tail = ops
	return p, nil
}

// appendLiteral adds the literal byte c to the prefix, or to the ops once
// a wildcard has been seen.
func appendLiteral(lit []byte, ops []op, wild bool, c byte) ([]byte, []op) {
	if wild {
		return lit, append(ops, op{kind: opByte, b: c})
	}
	return append(lit, c), ops
}

// validate checks everything about pattern but its escapes.
func validate(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("%w: empty pattern", ErrInvalid)
	}
	if len(pattern) > MaxLen {
		return fmt.Errorf("%w: %d bytes long, more than the limit of %d", ErrInvalid, len(pattern), MaxLen)
	}
	for i, r := range pattern {
		switch {
		case r == utf8.RuneError:
			if _, n := utf8.DecodeRuneInString(pattern[i:]); n == 1 {
				return fmt.Errorf("%w: not valid UTF-8 at byte %d", ErrInvalid, i)
			}
		case r < 0x20 || r == 0x7f:
			return fmt.Errorf("%w: control character %U at byte %d", ErrInvalid, r, i)
		}
	}
	return nil
}

// String returns the source text the pattern was compiled from.
func (p *Pattern) String() string { return p.src }

// Prefix returns the literal text before the first wildcard, with escapes
// removed: every key the pattern matches starts with it. For a pattern
// that starts with a wildcard it is "". For a literal pattern (see
// Literal) it is the whole key the pattern matches.
func (p *Pattern) Prefix() string { return p.prefix }

// Literal reports whether the pattern has no wildcard, so that it matches
// exactly one key: Prefix().
func (p *Pattern) Literal() bool { return !p.wild }
