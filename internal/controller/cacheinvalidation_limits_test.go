package controller

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache/glob"
)

// agentVerdict is what an agent answers to target: nil when it would
// apply it, the reason when it refuses it (with a 4xx, which the operator
// does not retry). It runs the agent's own checks: the request validation
// and, for patterns, the glob compilation done when the target is applied.
func agentVerdict(target v1alpha1.InvalidationTarget) error {
	t := agentapi.InvalidationTarget{
		Keys:     target.Keys,
		Prefixes: target.KeyPrefixes,
		Patterns: target.Patterns,
		All:      target.All,
	}
	if target.Tags != nil {
		t.Tags = &agentapi.TagTarget{Values: target.Tags.Values, Match: agentapi.TagMatch(strings.ToLower(target.Tags.Match))}
	}
	if err := t.Validate(); err != nil {
		return err
	}
	for _, p := range target.Patterns {
		if _, err := glob.Compile(p); err != nil {
			return err
		}
	}
	return nil
}

// repeat returns n copies of s, then tail.
func repeatTo(s string, n int, tail string) string { return strings.Repeat(s, n) + tail }

// list returns n values made by value(i).
func listOf(n int, value func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = value(i)
	}
	return out
}

// The API server refuses every CacheInvalidation target an agent refuses,
// so that a bad target fails `kubectl create` instead of taking a sequence
// number, failing on every pod and leaving a gap in the history; and it
// still accepts the largest targets an agent takes. Each case is checked
// against the agent's own validation too, so the two cannot drift apart
// unnoticed.
func TestCacheInvalidationTargetMatchesAgentLimits(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const (
		tooMany = "Too many"
		tooLong = "must be at most 1024 bytes in UTF-8"
		control = "must not contain control characters"
		lone    = "must not end in an unescaped backslash"
		euro    = "€" // 3 bytes in UTF-8
		emoji   = "😀" // 4 bytes in UTF-8
	)
	key1024 := repeatTo(euro, 341, "x") // 342 characters, 1024 bytes
	key1026 := repeatTo(euro, 342, "")  // 342 characters, 1026 bytes
	// numbered returns n distinct values of 1024 bytes, mostly euro signs.
	numbered := func(n int, sep string) []string {
		return listOf(n, func(i int) string { return repeatTo(euro, 340, fmt.Sprintf("%s%0*d", sep, 4-len(sep), i)) })
	}
	keys := func(v ...string) v1alpha1.InvalidationTarget { return v1alpha1.InvalidationTarget{Keys: v} }
	prefixes := func(v ...string) v1alpha1.InvalidationTarget { return v1alpha1.InvalidationTarget{KeyPrefixes: v} }
	patterns := func(v ...string) v1alpha1.InvalidationTarget { return v1alpha1.InvalidationTarget{Patterns: v} }
	tags := func(v ...string) v1alpha1.InvalidationTarget {
		return v1alpha1.InvalidationTarget{Tags: &v1alpha1.TagTarget{Values: v}}
	}
	tests := []struct {
		name   string
		target v1alpha1.InvalidationTarget
		// field and message the API server names; both "" when the target
		// is valid.
		field, message string
	}{
		// Tags: the agent takes at most 128.
		{"129 tags", tags(listOf(129, strconv.Itoa)...), "spec.target.tags.values", tooMany},
		{"1000 tags", tags(listOf(1000, strconv.Itoa)...), "spec.target.tags.values", tooMany},
		{"128 tags of 1024 bytes", tags(numbered(128, "")...), "", ""},

		// Lengths count bytes, as the agent does, not characters.
		{"a key of 400 euro signs (1200 bytes)", keys(repeatTo(euro, 400, "")), "spec.target.keys[0]", tooLong},
		{"a key of 342 characters in 1026 bytes", keys("k", key1026), "spec.target.keys[1]", tooLong},
		{"a key of 257 four-byte characters", keys(repeatTo(emoji, 257, "")), "spec.target.keys[0]", tooLong},
		{"a tag of 1025 bytes", tags(repeatTo("é", 512, "x")), "spec.target.tags.values[0]", tooLong},
		{"a prefix of 1026 bytes", prefixes(key1026), "spec.target.keyPrefixes[0]", tooLong},
		{"a pattern of 1026 bytes", patterns(key1026), "spec.target.patterns[0]", tooLong},
		{"a key of 342 characters in 1024 bytes", keys(key1024), "", ""},
		{"a key of 256 four-byte characters", keys(repeatTo(emoji, 256, "")), "", ""},
		{"a key of 1024 ASCII bytes", keys(repeatTo("k", 1024, "")), "", ""},
		{"a tag of 1024 bytes", tags(key1024), "", ""},
		{"a prefix of 1024 bytes", prefixes(key1024), "", ""},
		{"a pattern of 1024 bytes", patterns(repeatTo(euro, 341, "*")), "", ""},
		{"1000 keys of 1024 bytes", keys(numbered(1000, "")...), "", ""},
		{"1000 prefixes of 1024 bytes", prefixes(numbered(1000, "")...), "", ""},
		{"1000 patterns of 1024 bytes", patterns(numbered(1000, "*")...), "", ""},

		// Control characters (U+0000 to U+001F, U+007F), anywhere.
		{"a key with NUL", keys("a\x00b"), "spec.target.keys[0]", control},
		{"a key that is a tab", keys("\t"), "spec.target.keys[0]", control},
		{"a tag with a newline", tags("ok", "t\n"), "spec.target.tags.values[1]", control},
		{"a prefix with U+001F", prefixes("p\x1f"), "spec.target.keyPrefixes[0]", control},
		{"a pattern with DEL", patterns("x\x7f*"), "spec.target.patterns[0]", control},
		{"a pattern escaping a carriage return", patterns("x\\\r"), "spec.target.patterns[0]", control},
		{"a key with U+0085, a C1 control the agent takes", keys("a\u0085b"), "", ""},
		{"a key with space, tilde and U+00A0", keys("a b~\u00a0"), "", ""},

		// A pattern must not end in a lone backslash.
		{"a pattern that is one backslash", patterns(`\`), "spec.target.patterns[0]", lone},
		{"a pattern ending in a backslash", patterns("user:*", `user:*\`), "spec.target.patterns[1]", lone},
		{"a pattern ending in three backslashes", patterns(`a\\\`), "spec.target.patterns[0]", lone},
		{"a pattern ending in an escape and a backslash", patterns(`\*\`), "spec.target.patterns[0]", lone},
		{"a pattern ending in an escaped backslash", patterns(`a\\`), "", ""},
		{"a pattern of two escaped backslashes", patterns(`\\\\`), "", ""},
		{"a pattern with escaped wildcards", patterns(`session\*\?`), "", ""},
		{"a pattern escaping a multi-byte character", patterns(`price\€`), "", ""},
		{"a key ending in a backslash", keys(`a\`), "", ""},
		{"a prefix ending in a backslash", prefixes(`a\`), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			valid := tt.message == ""
			agentErr := agentVerdict(tt.target)
			if (agentErr == nil) != valid {
				t.Fatalf("the agent's verdict is %v; the case expects valid = %v", agentErr, valid)
			}
			inv := &v1alpha1.CacheInvalidation{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "inv-"},
				Spec: v1alpha1.CacheInvalidationSpec{
					PolicyRef: v1alpha1.LocalObjectReference{Name: "p"},
					Target:    tt.target,
				},
			}
			err := k8s.Create(context.Background(), inv)
			switch {
			case valid && err != nil:
				t.Fatalf("the API server refused a target the agent takes: %v", err)
			case !valid && err == nil:
				t.Fatalf("the API server accepted a target the agent refuses (%v)", agentErr)
			case !valid && !strings.Contains(err.Error(), tt.field+": ") && !strings.Contains(err.Error(), tt.message):
				t.Fatalf("error %q names neither field %q nor %q", err, tt.field, tt.message)
			case !valid && (!strings.Contains(err.Error(), tt.field+": ") || !strings.Contains(err.Error(), tt.message)):
				t.Fatalf("error %q does not name both field %q and %q", err, tt.field, tt.message)
			}
		})
	}
}
