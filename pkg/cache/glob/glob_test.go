package glob_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/layercache/layercache/pkg/cache/glob"
)

func mustCompile(tb testing.TB, pattern string) *glob.Pattern {
	tb.Helper()
	p, err := glob.Compile(pattern)
	if err != nil {
		tb.Fatalf("Compile(%q): %v", pattern, err)
	}
	return p
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, pattern, want string
	}{
		{"empty", "", "empty pattern"},
		{"too long", strings.Repeat("a", glob.MaxLen+1), "1025 bytes long"},
		{"invalid UTF-8", "user:\xff*", "not valid UTF-8 at byte 5"},
		{"truncated rune", "é"[:1], "not valid UTF-8 at byte 0"},
		{"NUL", "a\x00*", "control character U+0000 at byte 1"},
		{"newline", "a*\n", "control character U+000A at byte 2"},
		{"unit separator", "\x1f", "control character U+001F"},
		{"DEL", "a\x7f", "control character U+007F"},
		{"escaped control", `a\` + "\t", "control character U+0009"},
		{"trailing backslash", `user:\`, "trailing backslash"},
		{"odd backslashes", `a\\\`, "trailing backslash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := glob.Compile(tt.pattern)
			if err == nil {
				t.Fatalf("Compile(%q) = %q, want an error containing %q", tt.pattern, p, tt.want)
			}
			if !errors.Is(err, glob.ErrInvalid) {
				t.Errorf("Compile(%q) error %v does not wrap ErrInvalid", tt.pattern, err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "glob: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("Compile(%q) error = %q, want it to start with \"glob: \" and contain %q", tt.pattern, msg, tt.want)
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, pattern := range []string{
		strings.Repeat("*", glob.MaxLen),
		"\u0080\u009f", // C1 controls are not rejected, only C0 and DEL
		"\ufffd",       // a valid encoding of U+FFFD is valid UTF-8
		"[a-z]{1,2}^$",
		`\\`,
	} {
		if _, err := glob.Compile(pattern); err != nil {
			t.Errorf("Compile(%q): %v, want no error", pattern, err)
		}
	}
}

func TestPrefixLiteral(t *testing.T) {
	tests := []struct {
		pattern, prefix string
		literal         bool
	}{
		{"user:42", "user:42", true},
		{"user:*", "user:", false},
		{"user:?", "user:", false},
		{"*", "", false},
		{"?x", "", false},
		{`user\*:*`, "user*:", false},
		{`a\?b`, "a?b", true},
		{`a\\b*`, `a\b`, false},
		{`\a\b`, "ab", true},
		{`é\ü*ß`, "éü", false},
		{"a*b*c", "a", false},
		{"[x]*", "[x]", false},
	}
	for _, tt := range tests {
		p := mustCompile(t, tt.pattern)
		if got := p.Prefix(); got != tt.prefix {
			t.Errorf("Compile(%q).Prefix() = %q, want %q", tt.pattern, got, tt.prefix)
		}
		if got := p.Literal(); got != tt.literal {
			t.Errorf("Compile(%q).Literal() = %v, want %v", tt.pattern, got, tt.literal)
		}
		if got := p.String(); got != tt.pattern {
			t.Errorf("Compile(%q).String() = %q, want the source", tt.pattern, got)
		}
	}
}

func TestZeroPattern(t *testing.T) {
	var p glob.Pattern
	if !p.Match("") || p.Match("a") {
		t.Errorf("zero Pattern: Match(\"\") = %v, Match(\"a\") = %v; want true, false", p.Match(""), p.Match("a"))
	}
}
