package main

import (
	"slices"
	"strings"
	"testing"
)

func TestKeysListsCacheKeysSorted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	r := f.cli(t, "keys").ok(t)
	got := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if !slices.Equal(got, seededKeys()) {
		t.Errorf("keys printed %q, want %q (sorted, layer prefix stripped, nothing outside it)", got, seededKeys())
	}
}

func TestKeysPatternJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	for _, tc := range []struct {
		pattern string
		want    []string
	}{
		{"user:*", []string{"user:1", "user:2"}},
		{"*:1", []string{"missing:1", "old:1", "order:1", "user:1"}},
		{"user:?", []string{"user:1", "user:2"}},
		{`user\*`, []string{}},
		{"nothing*", []string{}},
	} {
		var got keysResult
		f.cli(t, "keys", "--json", "--pattern", tc.pattern).ok(t).decode(t, &got)
		if !slices.Equal(got.Keys, tc.want) || got.Count != len(tc.want) || got.Truncated {
			t.Errorf("keys --pattern %q = %+v, want %q", tc.pattern, got, tc.want)
		}
	}
}

func TestKeysLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	var got keysResult
	r := f.cli(t, "keys", "--json", "--limit", "2").ok(t)
	r.decode(t, &got)
	if got.Count != 2 || len(got.Keys) != 2 || !got.Truncated {
		t.Errorf("keys --limit 2 = %+v, want 2 keys, truncated", got)
	}
	if !strings.Contains(r.stderr, "stopped after --limit 2") {
		t.Errorf("stderr = %q, want a warning", r.stderr)
	}
}

func TestKeysQuotesUnprintableKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Written behind the Stack's back: the Stack rejects control characters.
	must(t, f.client.Set(t.Context(), layerPrefix+"evil\x1b[2J", "x", 0).Err())
	r := f.cli(t, "keys").ok(t)
	if strings.Contains(r.stdout, "\x1b") || !strings.Contains(r.stdout, `"evil\x1b[2J"`) {
		t.Errorf("keys printed %q, want the escape sequence quoted", r.stdout)
	}
}
