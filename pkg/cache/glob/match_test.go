package glob_test

import (
	"strings"
	"sync"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		yes, no []string
	}{
		{"*", []string{"", "a", "user:1:name", "é", "\xff"}, nil},
		{"***", []string{"", "abc"}, nil},
		{"**a**", []string{"a", "xa", "ax", "xax"}, []string{"", "b"}},
		{"user:*", []string{"user:", "user:1", "user:1:name"}, []string{"user", "users:1", "xuser:1", ""}},
		{"*:name", []string{":name", "user:1:name"}, []string{"user:1:names", "name"}},
		{"user:*:name", []string{"user::name", "user:1:name", "user:a:b:name"}, []string{"user:1:nam", "user:name"}},
		{"?", []string{"a", "é", "日", "🙂", "\xff"}, []string{"", "ab", "éé", "a日"}},
		{"??", []string{"ab", "éé", "日本", "a🙂", "\xff\xfe"}, []string{"a", "abc", "日"}},
		{"a?c", []string{"abc", "aéc", "a日c"}, []string{"ac", "abbc", "aééc"}},
		{"*?", []string{"a", "é", "abc"}, []string{""}},
		{"*??", []string{"ab", "日本", "éé"}, []string{"é", "a", ""}},
		{"?*?", []string{"é日", "abc"}, []string{"日", ""}},
		{"日*本", []string{"日本", "日の本"}, []string{"日", "本日"}},
		{"*ab", []string{"ab", "aab", "abab", "xxab"}, []string{"aba", "a"}},
		{"a*b*c", []string{"abc", "aXbYc", "abbbc", "acbc"}, []string{"acb", "ab", "bac"}},
		{"*aab*", []string{"aab", "aaab", "xaaby", "aaaab"}, []string{"abab", "aba"}},
		{`\*`, []string{"*"}, []string{"a", "", `\*`}},
		{`a\?`, []string{"a?"}, []string{"ab", "a"}},
		{`\\*`, []string{`\`, `\abc`}, []string{"abc", ""}},
		{`*\*`, []string{"*", "a*", "**"}, []string{"a", "*a"}},
		{`\é?`, []string{"éa", "éé"}, []string{"é", "ea"}},
		{"[ab]", []string{"[ab]"}, []string{"a", "b"}},
		{"user:[0-9]*", []string{"user:[0-9]", "user:[0-9]1"}, []string{"user:1"}},
		{"x", []string{"x"}, []string{"", "X", "xx"}},
		{"\ufffd", []string{"\ufffd"}, []string{"\xff"}}, // literals compare bytes
	}
	for _, tt := range tests {
		p := mustCompile(t, tt.pattern)
		for _, s := range tt.yes {
			if !p.Match(s) {
				t.Errorf("Compile(%q).Match(%q) = false, want true", tt.pattern, s)
			}
		}
		for _, s := range tt.no {
			if p.Match(s) {
				t.Errorf("Compile(%q).Match(%q) = true, want false", tt.pattern, s)
			}
		}
	}
}

// TestMatchPathological runs inputs that make a backtracking matcher take
// exponential time (each of k stars tries every split of s: about
// len(s)^k steps). Match is O(len(pattern) × len(s)): at most about
// 1,000 × 10,000 steps for the longest pattern here, so the test finishing
// at all is the check; it asserts results, never timings.
func TestMatchPathological(t *testing.T) {
	as := strings.Repeat("a", 10_000)
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"a*a*a*a*a*a*a*a*b", as, false},
		{"a*a*a*a*a*a*a*a*a", as, true},
		{"*a*a*a*a*a*a*a*a*a*a*", as, true},
		{"*a*a*a*a*a*a*a*a*a*b*", as, false},
		{"*?*?*?*?*?*?*?*?*?*?b", as, false},
		{strings.Repeat("*a", 500) + "b", as, false},
		{"*" + strings.Repeat("a", 1000) + "b", as, false},
		{"*" + strings.Repeat("a", 1000), as, true},
		{strings.Repeat("a*", 511) + "b", as + "b", true},
	}
	for _, tt := range tests {
		if got := mustCompile(t, tt.pattern).Match(tt.s); got != tt.want {
			t.Errorf("Compile(%.40q…).Match(%d bytes) = %v, want %v", tt.pattern, len(tt.s), got, tt.want)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	keys := []string{"user:1:profile", "user:2:proféle:x", "user:3:other", "order:1", ""}
	for _, pattern := range []string{"user:*:prof?le*", "user:1", "*a*a*a*b"} {
		p := mustCompile(t, pattern)
		allocs := testing.AllocsPerRun(100, func() {
			for _, k := range keys {
				p.Match(k)
			}
		})
		if allocs != 0 {
			t.Errorf("Compile(%q).Match allocated %v times per run, want 0", pattern, allocs)
		}
	}
}

func TestMatchConcurrent(t *testing.T) {
	p := mustCompile(t, "k:*:?")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				if !p.Match("k:1:x") || p.Match("k:1:xy") {
					t.Error("concurrent Match gave a wrong result")
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkMatch(b *testing.B) {
	benchmarks := []struct{ name, pattern, s string }{
		{"literal", "user:42:profile", "user:42:profile"},
		{"prefix", "user:*", "user:42:profile"},
		{"middle", "user:*:profile", "user:42:profile"},
		{"pathological", "a*a*a*a*a*a*a*a*b", strings.Repeat("a", 1000)},
	}
	for _, bm := range benchmarks {
		p := mustCompile(b, bm.pattern)
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Match(bm.s)
			}
		})
	}
}
