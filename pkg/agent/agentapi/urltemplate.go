package agentapi

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// URLTemplate is a compiled Origin.URLTemplate: literal text with
// placeholders "{key}" (the whole key) and "{1}", "{2}", ... (the captures
// of the origin's key pattern). It is immutable and safe for concurrent
// use.
type URLTemplate struct {
	parts []templatePart
}

type templatePart struct {
	lit string
	ref int // 0: literal; -1: the key; n > 0: capture n
}

// CompileURLTemplate parses tmpl for a pattern with the given number of
// wildcards. Every "{" must open a placeholder, capture numbers must be
// between 1 and wildcards, and the URL must be absolute http or https with
// a host.
func CompileURLTemplate(tmpl string, wildcards int) (*URLTemplate, error) {
	if tmpl == "" {
		return nil, errors.New("must not be empty")
	}
	t := &URLTemplate{}
	rest := tmpl
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.parts = append(t.parts, templatePart{lit: rest})
			break
		}
		if rest[i] == '}' {
			return nil, fmt.Errorf("has a '}' with no '{' at byte %d", len(tmpl)-len(rest)+i)
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{lit: rest[:i]})
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return nil, errors.New("has a '{' with no '}'")
		}
		name := rest[i+1 : i+end]
		ref, err := placeholder(name, wildcards)
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, templatePart{ref: ref})
		rest = rest[i+end+1:]
	}
	// Check the shape with every placeholder filled in.
	u, err := url.Parse(t.expand("k", func(int) string { return "x" }))
	if err != nil {
		return nil, fmt.Errorf("is not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("must be an http or https URL, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("must name a host")
	}
	return t, nil
}

func placeholder(name string, wildcards int) (int, error) {
	if name == "key" {
		return -1, nil
	}
	n, err := strconv.Atoi(name)
	if err != nil || name == "" || name[0] == '+' || name[0] == '-' {
		return 0, fmt.Errorf("has placeholder {%s}; want {key} or {1}..{%d}", name, max(wildcards, 1))
	}
	if n < 1 || n > wildcards {
		return 0, fmt.Errorf("has placeholder {%d} but the key pattern has %d wildcard(s)", n, wildcards)
	}
	return n, nil
}

// Expand returns the URL for key with the given captures (as returned by
// KeyPattern.Match). Each substituted value is path-escaped, so a "/" or
// "?" in a key cannot change the URL's structure.
func (t *URLTemplate) Expand(key string, captures []string) string {
	return t.expand(key, func(n int) string {
		if n <= len(captures) {
			return captures[n-1]
		}
		return ""
	})
}

func (t *URLTemplate) expand(key string, capture func(int) string) string {
	var b strings.Builder
	for _, p := range t.parts {
		switch {
		case p.ref == 0:
			b.WriteString(p.lit)
		case p.ref < 0:
			b.WriteString(url.PathEscape(key))
		default:
			b.WriteString(url.PathEscape(capture(p.ref)))
		}
	}
	return b.String()
}
