package main

import (
	"context"
	"flag"
	"io"
	"slices"

	"github.com/layercache/layercache/pkg/cache/glob"
)

// keysCmd lists the layer's cache keys, sorted, at most --limit of them.
type keysCmd struct {
	patternFlag string
	limit       int
	pattern     *glob.Pattern
}

func (c *keysCmd) register(fs *flag.FlagSet) {
	fs.StringVar(&c.patternFlag, "pattern", "", "list only the cache keys matching this glob (default: all)")
	fs.IntVar(&c.limit, "limit", defaultLimit, "most keys to list")
}

func (c *keysCmd) check() error {
	var err error
	if c.pattern, err = compilePattern(c.patternFlag); err != nil {
		return err
	}
	return checkLimit(c.limit)
}

// keysResult is the output of keys.
type keysResult struct {
	LayerPrefix string   `json:"layerPrefix"`
	Pattern     string   `json:"pattern,omitempty"`
	Count       int      `json:"count"`
	Truncated   bool     `json:"truncated"`
	Keys        []string `json:"keys"`
}

func (c *keysCmd) run(ctx context.Context, e *env) error {
	if e.prefix == "" {
		e.warnf("no --prefix: every key in the database is listed, other applications' included")
	}
	keys, truncated, err := collect(ctx, e, newSelection(e.prefix, c.pattern), c.limit)
	if err != nil {
		return err
	}
	if truncated {
		e.warnf("stopped after --limit %d keys: the list is partial", c.limit)
	}
	r := keysResult{LayerPrefix: e.prefix, Pattern: c.patternFlag, Count: len(keys), Truncated: truncated, Keys: keys}
	// One key per line, no header: the list pipes into grep and xargs.
	return e.out.emit(r, func(w io.Writer) {
		for _, k := range keys {
			row(w, safe(k))
		}
	})
}

// collect returns the distinct keys sel selects, sorted, at most limit of
// them; truncated says whether there were more.
func collect(ctx context.Context, e *env, sel selection, limit int) (keys []string, truncated bool, err error) {
	seen := make(map[string]struct{})
	err = sel.scan(ctx, e.client, func(page []string) (bool, error) {
		for _, k := range page {
			if _, dup := seen[k]; dup {
				continue
			}
			if len(keys) == limit {
				truncated = true
				return false, nil
			}
			seen[k] = struct{}{}
			keys = append(keys, k)
		}
		return true, nil
	})
	slices.Sort(keys)
	if keys == nil {
		keys = []string{} // JSON: [] rather than null
	}
	return keys, truncated, err
}
