package glob

import (
	"strings"
	"unicode/utf8"
)

// Match reports whether s matches the whole pattern. It allocates nothing.
//
// It runs the classic greedy two-pointer match: walk pattern and s
// together; at a star, remember the star and where in s its match ends
// (empty at first); on a mismatch, let the most recent star absorb one
// more character of s and resume just after that star. Earlier stars are
// never revisited: once the text between two stars has matched at its
// leftmost position, a later match of it could only leave less of s for the
// rest. So for each star the end of its match only moves forward through
// s, and each move re-runs at most len(pattern) steps: O(len(pattern) ×
// len(s)) in the worst case, never exponential.
func (p *Pattern) Match(s string) bool {
	if !p.wild {
		return s == p.prefix
	}
	if !strings.HasPrefix(s, p.prefix) {
		return false
	}
	s = s[len(p.prefix):]
	ops := p.tail
	pi, si := 0, 0
	star, mark := -1, 0 // index of the last star seen in ops; end of its match in s
	for si < len(s) {
		if pi < len(ops) {
			switch o := ops[pi]; o.kind {
			case opStar:
				star, mark = pi, si
				pi++
				continue
			case opAny:
				pi, si = pi+1, si+runeLen(s, si)
				continue
			case opByte:
				if s[si] == o.b {
					pi, si = pi+1, si+1
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		// The star takes whole runes, so si stays on a rune boundary
		// and ? always sees a rune from its first byte.
		mark += runeLen(s, mark)
		pi, si = star+1, mark
	}
	// s is used up: only stars, matching the empty run, may remain.
	for pi < len(ops) && ops[pi].kind == opStar {
		pi++
	}
	return pi == len(ops)
}

// runeLen returns the length in bytes of the rune that starts s[i:], or 1
// for a byte that does not start valid UTF-8. i must be < len(s).
func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s[i:])
	return n
}
