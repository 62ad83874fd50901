package agentapi_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

func TestKeyPatternMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, key string
		captures     []string // nil: no match
	}{
		{"user:*", "user:42", []string{"42"}},
		{"user:*", "user:", []string{""}},
		{"user:*", "users:1", nil},
		{"*:*", "a:b:c", []string{"a", "b:c"}},
		{"pair:*:*", "pair:a b:c/d", []string{"a b", "c/d"}},
		{"v?:*", "v1:x", []string{"1", "x"}},
		{"v?:*", "vé:x", []string{"é", "x"}},
		{"*-end", "a-b-end", []string{"a-b"}},
		{"*a*b", "xaayb", []string{"x", "ay"}},
		{`lit\*:*`, "lit*:1", []string{"1"}},
		{`lit\*:*`, "litx:1", nil},
		{"exact", "exact", []string{}},
		{"exact", "exactly", nil},
		{"**", "", []string{"", ""}},
	} {
		p, err := agentapi.CompileKeyPattern(tc.pattern)
		if err != nil {
			t.Fatalf("CompileKeyPattern(%q): %v", tc.pattern, err)
		}
		got, ok := p.Match(tc.key)
		if ok != (tc.captures != nil) || (ok && !slices.Equal(got, tc.captures)) {
			t.Errorf("%q.Match(%q) = %q, %v; want %q", tc.pattern, tc.key, got, ok, tc.captures)
		}
	}
	for _, bad := range []string{"", `ends\`, "ctl\x01", strings.Repeat("x", agentapi.MaxKeyLen+1)} {
		if _, err := agentapi.CompileKeyPattern(bad); err == nil {
			t.Errorf("CompileKeyPattern(%q): no error", bad)
		}
	}
}

func TestURLTemplate(t *testing.T) {
	t.Parallel()
	tmpl, err := agentapi.CompileURLTemplate("http://users.svc/users/{1}?k={key}&b={2}", 2)
	if err != nil {
		t.Fatal(err)
	}
	got := tmpl.Expand("u:a/b:c d", []string{"a/b", "c d"})
	if want := "http://users.svc/users/a%2Fb?k=u:a%2Fb:c%20d&b=c%20d"; got != want {
		t.Fatalf("Expand = %q; want %q", got, want)
	}
	for _, tc := range []struct {
		tmpl      string
		wildcards int
	}{
		{"", 1}, {"http://x/{3}", 2}, {"http://x/{0}", 1}, {"http://x/{name}", 1}, {"http://x/{1", 1},
		{"http://x/}", 1}, {"ftp://x/{1}", 1}, {"/relative/{1}", 1}, {"http://x/{-1}", 1},
	} {
		if _, err := agentapi.CompileURLTemplate(tc.tmpl, tc.wildcards); err == nil {
			t.Errorf("CompileURLTemplate(%q, %d): no error", tc.tmpl, tc.wildcards)
		}
	}
}

func FuzzKeyPattern(f *testing.F) {
	f.Add("user:*", "user:42")
	f.Add("*a*?b", "xxaqqb")
	f.Add(`\**`, "*x")
	f.Fuzz(func(t *testing.T, pattern, key string) {
		p, err := agentapi.CompileKeyPattern(pattern)
		if err != nil {
			return
		}
		captures, ok := p.Match(key)
		if !ok {
			return
		}
		if len(captures) != p.Wildcards() {
			t.Fatalf("%q.Match(%q): %d captures for %d wildcards", pattern, key, len(captures), p.Wildcards())
		}
		// Putting the captures back into the pattern gives the key.
		var b strings.Builder
		i := 0
		for j := 0; j < len(pattern); j++ {
			switch c := pattern[j]; c {
			case '\\':
				j++
				b.WriteByte(pattern[j])
			case '*', '?':
				b.WriteString(captures[i])
				i++
			default:
				b.WriteByte(c)
			}
		}
		if b.String() != key {
			t.Fatalf("%q.Match(%q) captures %q rebuild %q", pattern, key, captures, b.String())
		}
	})
}
