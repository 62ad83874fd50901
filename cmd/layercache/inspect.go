package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache"
)

// defaultPreviewBytes is how much of the decoded payload the table shows.
const defaultPreviewBytes = 256

// inspectCmd decodes one stored entry: the compression marker, the
// envelope (deadlines, tags, negative flag) and the payload.
type inspectCmd struct {
	key          string
	codec        string
	previewBytes int
}

func (c *inspectCmd) register(fs *flag.FlagSet) {
	fs.StringVar(&c.key, "key", "", "the cache key to inspect, without the layer prefix (required)")
	fs.StringVar(&c.codec, "codec", codecJSON, "the stack's codec, to decode the payload: json or msgpack")
	fs.IntVar(&c.previewBytes, "preview-bytes", defaultPreviewBytes, "most bytes of the decoded payload the table shows")
}

func (c *inspectCmd) check() error {
	if c.key == "" {
		return usagef("--key is required")
	}
	if err := cache.ValidateKey(c.key); err != nil {
		return usagef("--key: %v", err)
	}
	if c.codec != codecJSON && c.codec != codecMsgpack {
		return usagef("--codec %s: want json or msgpack", safe(c.codec))
	}
	if c.previewBytes <= 0 {
		return usagef("--preview-bytes is %d; it must be positive", c.previewBytes)
	}
	return nil
}

// inspectResult is the output of inspect.
type inspectResult struct {
	Key      string `json:"key"`
	RedisKey string `json:"redisKey"`
	Exists   bool   `json:"exists"`
	// Type is the Redis type of a key that does not hold a string.
	Type string `json:"type,omitempty"`
	// TTLMs is the remaining time to live; null without one.
	TTLMs      *int64 `json:"ttlMs"`
	SizeBytes  int    `json:"sizeBytes"`
	Compressed bool   `json:"compressed"`
	Algorithm  string `json:"algorithm,omitempty"`
	// EnvelopeBytes is the size of the decompressed envelope.
	EnvelopeBytes int  `json:"envelopeBytes,omitempty"`
	Envelope      bool `json:"envelope"`
	// Error says why the value is not a valid entry.
	Error        string     `json:"error,omitempty"`
	State        string     `json:"state,omitempty"`
	FreshUntil   *time.Time `json:"freshUntil,omitempty"`
	StaleUntil   *time.Time `json:"staleUntil,omitempty"`
	ErrorUntil   *time.Time `json:"errorUntil,omitempty"`
	Tags         []string   `json:"tags"`
	Negative     bool       `json:"negative"`
	PayloadBytes int        `json:"payloadBytes"`
	Codec        string     `json:"codec"`
	// Value is the payload decoded with Codec, as JSON.
	Value        json.RawMessage `json:"value,omitempty"`
	PreviewError string          `json:"previewError,omitempty"`

	ttl          time.Duration
	previewBytes int
}

func (c *inspectCmd) run(ctx context.Context, e *env) error {
	comp, err := newCompressor()
	if err != nil {
		return err
	}
	rk := e.prefix + c.key
	var (
		get *redis.StringCmd
		ttl *redis.DurationCmd
		typ *redis.StatusCmd
	)
	err = pipelined(ctx, e.client, func(p redis.Pipeliner) {
		get = p.Get(ctx, rk)
		ttl = p.PTTL(ctx, rk)
		typ = p.Type(ctx, rk)
	})
	if err != nil {
		return fmt.Errorf("read %q: %w", c.key, err)
	}
	r := &inspectResult{Key: c.key, RedisKey: rk, Tags: []string{}, Codec: c.codec, ttl: -1, previewBytes: c.previewBytes}
	b, err := get.Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return e.out.emit(r, r.table)
	case isWrongType(err):
		r.Exists, r.Type = true, typ.Val()
		r.Error = "holds a " + typ.Val() + ", not a string: not written by the Redis layer"
		r.setTTL(ttl.Val())
		return e.out.emit(r, r.table)
	case err != nil:
		return fmt.Errorf("get %q: %w", c.key, err)
	}
	r.Exists = true
	r.setTTL(ttl.Val())
	r.fill(decodeStored(comp, b), time.Now())
	return e.out.emit(r, r.table)
}

func (r *inspectResult) setTTL(d time.Duration) {
	if d >= 0 {
		ms := d.Milliseconds()
		r.TTLMs, r.ttl = &ms, d
	}
}

// fill reports what s holds, with its state at now.
func (r *inspectResult) fill(s stored, now time.Time) {
	r.SizeBytes = s.size
	r.Compressed = s.compressed
	if knownAlgorithm(s.algorithm) {
		r.Algorithm = s.algorithm.String()
	}
	if s.compressed && s.envelope != nil {
		r.EnvelopeBytes = len(s.envelope)
	}
	if s.err != nil {
		r.Error = s.err.Error()
		return
	}
	e := &s.entry
	r.Envelope = true
	r.State = e.State(now.UnixNano()).String()
	r.FreshUntil, r.StaleUntil, r.ErrorUntil = deadline(e.FreshUntil), deadline(e.StaleUntil), deadline(e.ErrorUntil)
	r.Tags = append(r.Tags, e.Tags...)
	r.Negative = e.Negative
	r.PayloadBytes = len(e.Payload)
	if e.Negative {
		return
	}
	v, err := payloadJSON(r.Codec, e.Payload)
	if err != nil {
		r.PreviewError = err.Error()
		return
	}
	r.Value = v
}

func deadline(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	t := time.Unix(0, ns).UTC()
	return &t
}

func (r *inspectResult) table(w io.Writer) {
	now := time.Now()
	row(w, "FIELD", "VALUE")
	row(w, "key", safe(r.Key))
	row(w, "redis key", safe(r.RedisKey))
	row(w, "exists", r.Exists)
	if !r.Exists {
		return
	}
	if r.Type != "" {
		row(w, "type", safe(r.Type))
	}
	row(w, "ttl", formatTTL(r.ttl))
	size := fmt.Sprintf("%d bytes", r.SizeBytes)
	if r.Compressed {
		size += fmt.Sprintf(" (%s-compressed; envelope %d bytes)", r.Algorithm, r.EnvelopeBytes)
	}
	row(w, "size", size)
	row(w, "envelope", r.Envelope)
	if r.Error != "" {
		row(w, "error", safe(r.Error))
	}
	if !r.Envelope {
		return
	}
	row(w, "state", r.State)
	for _, d := range []struct {
		name string
		t    *time.Time
	}{{"fresh until", r.FreshUntil}, {"stale until", r.StaleUntil}, {"error until", r.ErrorUntil}} {
		v := "-"
		if d.t != nil {
			v = formatDeadline(d.t.UnixNano(), now)
		}
		row(w, d.name, v)
	}
	row(w, "tags", joinSafe(r.Tags))
	row(w, "negative", r.Negative)
	if r.Negative {
		return
	}
	row(w, "payload", fmt.Sprintf("%d bytes (%s)", r.PayloadBytes, r.Codec))
	if r.PreviewError != "" {
		row(w, "preview", "("+safe(r.PreviewError)+")")
		return
	}
	row(w, "preview", safe(truncate(string(r.Value), r.previewBytes)))
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + fmt.Sprintf("… (%d bytes)", len(s))
}
