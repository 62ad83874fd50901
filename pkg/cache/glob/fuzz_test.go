package glob_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/layercache/layercache/pkg/cache/glob"
)

// Inputs larger than these are not checked against reference (see FuzzMatch).
const (
	refMaxPattern = 256
	refMaxKey     = 1024
)

// reference translates a glob pattern to an anchored regexp, independently
// of Compile. ok is false when the pattern is invalid. Go's regexp package
// is linear-time too, so the fuzzer cannot stall on it.
func reference(pattern string) (re *regexp.Regexp, ok bool) {
	if pattern == "" || len(pattern) > glob.MaxLen || !utf8.ValidString(pattern) {
		return nil, false
	}
	if strings.ContainsFunc(pattern, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, false
	}
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	escaped := false
	for _, r := range pattern {
		switch {
		case escaped:
			b.WriteString(regexp.QuoteMeta(string(r)))
			escaped = false
		case r == '\\':
			escaped = true
		case r == '*':
			b.WriteString(`.*`)
		case r == '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if escaped {
		return nil, false
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String()), true
}

// FuzzMatch checks Compile and Match against reference, plus the Prefix
// and Literal contracts.
func FuzzMatch(f *testing.F) {
	seeds := [][2]string{
		{"user:*", "user:42"},
		{"*:name", "user:1:name"},
		{"a?c", "aéc"},
		{"*??", "é"},
		{`\*\?\\`, `*?\`},
		{"a*a*a*b", "aaaaaaaaaaaaaaaa"},
		{"*?", "\xff\xfe"},
		{"[a]", "a"},
		{"", ""},
		{`x\`, "x"},
		{"\x00", "\x00"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		p, err := glob.Compile(pattern)
		re, ok := reference(pattern)
		if ok != (err == nil) {
			t.Fatalf("Compile(%q) error = %v, but the reference says valid = %v", pattern, err, ok)
		}
		if err != nil {
			return
		}
		got := p.Match(s)
		// Go's regexp reads an invalid byte as U+FFFD, so a literal U+FFFD
		// in the pattern would match it there; Match compares literals
		// byte for byte. Skip only that combination. Also skip large
		// inputs: the regexp is linear, but with a large constant (a
		// state per pattern character), and would slow the fuzzer down.
		small := len(pattern) <= refMaxPattern && len(s) <= refMaxKey
		if small && (utf8.ValidString(s) || !strings.ContainsRune(pattern, utf8.RuneError)) {
			if want := re.MatchString(s); got != want {
				t.Fatalf("Compile(%q).Match(%q) = %v, reference %v says %v", pattern, s, got, re, want)
			}
		}
		if got && !strings.HasPrefix(s, p.Prefix()) {
			t.Fatalf("Compile(%q).Match(%q) = true, but the key lacks Prefix() %q", pattern, s, p.Prefix())
		}
		if p.Literal() && got != (s == p.Prefix()) {
			t.Fatalf("literal Compile(%q).Match(%q) = %v, want s == Prefix() (%q)", pattern, s, got, p.Prefix())
		}
	})
}
