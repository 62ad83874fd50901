package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/compress"
	"github.com/layercache/layercache/pkg/cache/glob"
)

// statsCmd counts the layer's keys and what they hold. It reads every
// value it counts (GET and PTTL, pipelined 500 keys at a time), at most
// --limit of them.
type statsCmd struct {
	patternFlag string
	limit       int
	pattern     *glob.Pattern
}

func (c *statsCmd) register(fs *flag.FlagSet) {
	fs.StringVar(&c.patternFlag, "pattern", "", "count only the cache keys matching this glob (default: all)")
	fs.IntVar(&c.limit, "limit", defaultLimit, "most keys to examine; the counts are partial beyond it")
}

func (c *statsCmd) check() error {
	var err error
	if c.pattern, err = compilePattern(c.patternFlag); err != nil {
		return err
	}
	return checkLimit(c.limit)
}

// ttlBucket counts the keys whose remaining TTL is below upTo (and at or
// above the previous bucket's).
type ttlBucket struct {
	Range string        `json:"range"`
	Keys  int           `json:"keys"`
	upTo  time.Duration // 0: no TTL; -1: no upper bound
}

// statsResult is the output of stats.
type statsResult struct {
	LayerPrefix  string         `json:"layerPrefix"`
	Pattern      string         `json:"pattern,omitempty"`
	Keys         int            `json:"keys"`
	Limit        int            `json:"limit"`
	Truncated    bool           `json:"truncated"`
	Bytes        int64          `json:"bytes"`
	LargestBytes int            `json:"largestBytes"`
	Envelopes    int            `json:"envelopes"`
	Compressed   int            `json:"compressed"`
	Algorithms   map[string]int `json:"algorithms"`
	Tagged       int            `json:"tagged"`
	Negative     int            `json:"negative"`
	Corrupt      int            `json:"corrupt"`
	NotString    int            `json:"notString"`
	States       map[string]int `json:"states"`
	TTL          []ttlBucket    `json:"ttl"`
}

func newStatsResult(prefix, pattern string, limit int) *statsResult {
	r := &statsResult{
		LayerPrefix: prefix,
		Pattern:     pattern,
		Limit:       limit,
		Algorithms:  map[string]int{},
		States:      map[string]int{},
		TTL: []ttlBucket{
			{Range: "none", upTo: 0},
			{Range: "<1m", upTo: time.Minute},
			{Range: "1m-10m", upTo: 10 * time.Minute},
			{Range: "10m-1h", upTo: time.Hour},
			{Range: "1h-1d", upTo: 24 * time.Hour},
			{Range: ">=1d", upTo: -1},
		},
	}
	for s := cache.StateFresh; s <= cache.StateExpired; s++ {
		r.States[s.String()] = 0
	}
	return r
}

func (c *statsCmd) run(ctx context.Context, e *env) error {
	comp, err := newCompressor()
	if err != nil {
		return err
	}
	if e.prefix == "" {
		e.warnf("no --prefix: every key in the database is counted, other applications' included")
	}
	r := newStatsResult(e.prefix, c.patternFlag, c.limit)
	seen := make(map[string]struct{}) // SCAN may report a key twice
	err = newSelection(e.prefix, c.pattern).scan(ctx, e.client, func(keys []string) (bool, error) {
		fresh := keys[:0]
		for _, k := range keys {
			if _, dup := seen[k]; !dup {
				fresh = append(fresh, k)
			}
		}
		if left := c.limit - len(seen); len(fresh) > left {
			r.Truncated = true
			fresh = fresh[:left]
		}
		for _, k := range fresh {
			seen[k] = struct{}{}
		}
		err := chunks(fresh, batchSize, func(batch []string) error {
			return r.addBatch(ctx, e, comp, batch)
		})
		return err == nil && !r.Truncated, err
	})
	if err != nil {
		return err
	}
	if r.Truncated {
		e.warnf("stopped after --limit %d keys: the counts are partial", c.limit)
	}
	return e.out.emit(r, r.table)
}

// addBatch reads and counts the values of keys (cache keys).
func (r *statsResult) addBatch(ctx context.Context, e *env, comp *compress.Compressor, keys []string) error {
	gets := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	err := pipelined(ctx, e.client, func(p redis.Pipeliner) {
		for i, k := range keys {
			gets[i] = p.Get(ctx, e.prefix+k)
			ttls[i] = p.PTTL(ctx, e.prefix+k)
		}
	})
	if err != nil {
		return fmt.Errorf("read %d keys: %w", len(keys), err)
	}
	now := time.Now().UnixNano()
	for i := range keys {
		b, err := gets[i].Bytes()
		switch {
		case errors.Is(err, redis.Nil):
			continue // deleted since the scan
		case isWrongType(err):
			r.NotString++
		case err != nil:
			return fmt.Errorf("get %q: %w", keys[i], err)
		default:
			r.addValue(comp, b, now)
		}
		r.Keys++
		r.addTTL(ttls[i].Val())
	}
	return nil
}

func (r *statsResult) addValue(comp *compress.Compressor, b []byte, now int64) {
	s := decodeStored(comp, b)
	r.Bytes += int64(s.size)
	r.LargestBytes = max(r.LargestBytes, s.size)
	if s.compressed {
		r.Compressed++
		r.Algorithms[s.algorithm.String()]++
	}
	if s.err != nil {
		r.Corrupt++
		return
	}
	r.Envelopes++
	if len(s.entry.Tags) > 0 {
		r.Tagged++
	}
	if s.entry.Negative {
		r.Negative++
	}
	r.States[s.entry.State(now).String()]++
}

// addTTL counts a PTTL reply: -1 (as a duration) for no TTL.
func (r *statsResult) addTTL(d time.Duration) {
	if d < 0 {
		r.TTL[0].Keys++
		return
	}
	for i := 1; i < len(r.TTL); i++ {
		if b := &r.TTL[i]; b.upTo < 0 || d < b.upTo {
			b.Keys++
			return
		}
	}
}

func (r *statsResult) table(w io.Writer) {
	row(w, "FIELD", "VALUE")
	row(w, "layer prefix", showPrefix(r.LayerPrefix))
	if r.Pattern != "" {
		row(w, "pattern", safe(r.Pattern))
	}
	keys := fmt.Sprint(r.Keys)
	if r.Truncated {
		keys += fmt.Sprintf(" (stopped at --limit %d)", r.Limit)
	}
	row(w, "keys", keys)
	row(w, "bytes", fmt.Sprintf("%d (largest %d)", r.Bytes, r.LargestBytes))
	row(w, "envelopes", r.Envelopes)
	row(w, "compressed", r.Compressed)
	for _, a := range []compress.Algorithm{compress.Gzip, compress.Zstd, compress.Brotli} {
		if n := r.Algorithms[a.String()]; n > 0 {
			row(w, "  "+a.String(), n)
		}
	}
	row(w, "tagged", r.Tagged)
	row(w, "negative", r.Negative)
	row(w, "corrupt", r.Corrupt)
	row(w, "not strings", r.NotString)
	for s := cache.StateFresh; s <= cache.StateExpired; s++ {
		row(w, "state "+s.String(), r.States[s.String()])
	}
	for _, b := range r.TTL {
		row(w, "ttl "+b.Range, b.Keys)
	}
}

// compilePattern compiles a --pattern flag; "" is no pattern.
func compilePattern(s string) (*glob.Pattern, error) {
	if s == "" {
		return nil, nil
	}
	p, err := glob.Compile(s)
	if err != nil {
		return nil, usagef("--pattern: %v", err)
	}
	return p, nil
}

func checkLimit(n int) error {
	if n <= 0 {
		return usagef("--limit is %d; it must be positive", n)
	}
	return nil
}
