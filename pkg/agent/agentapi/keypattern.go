package agentapi

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// KeyPattern is a compiled Origin.KeyPattern: `*` matches any run of
// characters (empty included), `?` exactly one character, `\` escapes the
// next character; everything else matches itself. A pattern matches the
// whole key. Each wildcard captures the text it matched, numbered from 1.
//
// A KeyPattern is immutable and safe for concurrent use. Match costs at
// most O(len(pattern) × len(key)) steps, so untrusted patterns cannot stall
// a caller.
type KeyPattern struct {
	src       string
	ops       []patternOp
	wildcards int
}

type patternOp struct {
	kind byte // 'l' literal byte, '?' one character, '*' any run
	b    byte
}

// CompileKeyPattern parses pattern. It fails when pattern is empty, longer
// than MaxKeyLen bytes, not UTF-8, holds a control character or ends in a
// lone `\`.
func CompileKeyPattern(pattern string) (*KeyPattern, error) {
	if err := checkName(pattern); err != nil {
		return nil, err
	}
	p := &KeyPattern{src: pattern}
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '\\':
			if i+1 == len(pattern) {
				return nil, errors.New("ends in a lone backslash")
			}
			i++
			p.ops = append(p.ops, patternOp{kind: 'l', b: pattern[i]})
		case '*', '?':
			p.ops = append(p.ops, patternOp{kind: c})
			p.wildcards++
		default:
			p.ops = append(p.ops, patternOp{kind: 'l', b: c})
		}
	}
	return p, nil
}

// String returns the pattern's source.
func (p *KeyPattern) String() string { return p.src }

// Wildcards returns how many captures the pattern has.
func (p *KeyPattern) Wildcards() int { return p.wildcards }

// Match reports whether key matches the whole pattern and, if so, returns
// the captures, one per wildcard in order. Earlier stars capture as little
// as they can.
func (p *KeyPattern) Match(key string) (captures []string, ok bool) {
	// pos[i] is where op i started matching in key; pos[len(ops)] is the
	// end. This is the classic glob algorithm: on a mismatch, the last star
	// swallows one more character and everything after it is matched
	// again, which finds a match whenever one exists.
	pos := make([]int, len(p.ops)+1)
	op, t := 0, 0
	starOp, starT := -1, -1
	for t < len(key) {
		if op < len(p.ops) {
			switch o := p.ops[op]; o.kind {
			case 'l':
				if key[t] == o.b {
					pos[op] = t
					op, t = op+1, t+1
					continue
				}
			case '?':
				pos[op] = t
				_, n := utf8.DecodeRuneInString(key[t:])
				op, t = op+1, t+n
				continue
			case '*':
				pos[op] = t
				starOp, starT = op, t
				op++
				continue
			}
		}
		if starOp < 0 {
			return nil, false
		}
		_, n := utf8.DecodeRuneInString(key[starT:])
		starT += n
		op, t = starOp+1, starT
	}
	for op < len(p.ops) && p.ops[op].kind == '*' {
		pos[op] = t
		op++
	}
	if op != len(p.ops) {
		return nil, false
	}
	pos[len(p.ops)] = len(key)
	captures = make([]string, 0, p.wildcards)
	for i, o := range p.ops {
		if o.kind != 'l' {
			captures = append(captures, key[pos[i]:pos[i+1]])
		}
	}
	return captures, true
}

// checkName applies the engine's key rules: non-empty, at most MaxKeyLen
// bytes, UTF-8, no control characters.
func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case len(s) > MaxKeyLen:
		return fmt.Errorf("is %d bytes, at most %d are allowed", len(s), MaxKeyLen)
	case !utf8.ValidString(s):
		return errors.New("is not valid UTF-8")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("contains control character %#02x at byte %d", c, i)
		}
	}
	return nil
}
