package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
)

// origin is a compiled agentapi.Origin.
type origin struct {
	pattern *agentapi.KeyPattern
	url     *agentapi.URLTemplate
	timeout time.Duration
	header  http.Header
	opts    []cache.Option // TTL and tags of the entries it loads
}

// origins loads values from upstream HTTP servers for read-through and
// warming. It is immutable once built, and safe for concurrent use.
type origins struct {
	list     []origin
	client   *http.Client
	maxBytes int64
	marks    *fetchMarks
}

// OriginError is returned when an origin fails: a transport error, or an
// answer other than 2xx with a JSON body, 404 or 410.
type OriginError struct {
	URL    string
	Status int // 0 when no answer came
	Err    error
}

func (e *OriginError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("agent: origin %s answered %d: %v", e.URL, e.Status, e.Err)
	}
	return fmt.Sprintf("agent: origin %s: %v", e.URL, e.Err)
}

func (e *OriginError) Unwrap() error { return e.Err }

func compileOrigins(list []agentapi.Origin, client *http.Client, maxBytes int64, marks *fetchMarks) (*origins, error) {
	o := &origins{client: client, maxBytes: maxBytes, marks: marks}
	for i, src := range list {
		kp, err := agentapi.CompileKeyPattern(src.KeyPattern)
		if err != nil {
			return nil, fmt.Errorf("origins[%d].keyPattern: %w", i, err)
		}
		ut, err := agentapi.CompileURLTemplate(src.URLTemplate, kp.Wildcards())
		if err != nil {
			return nil, fmt.Errorf("origins[%d].urlTemplate: %w", i, err)
		}
		or := origin{pattern: kp, url: ut, timeout: src.Timeout.Std(), header: make(http.Header, len(src.Headers)+1)}
		if or.timeout == 0 {
			or.timeout = agentapi.DefaultOriginTimeout
		}
		for k, v := range src.Headers {
			or.header.Set(k, v)
		}
		if or.header.Get("Accept") == "" {
			or.header.Set("Accept", "application/json")
		}
		if src.TTL > 0 {
			or.opts = append(or.opts, cache.TTL(src.TTL.Std()))
		}
		if len(src.Tags) > 0 {
			or.opts = append(or.opts, cache.Tags(src.Tags...))
		}
		o.list = append(o.list, or)
	}
	return o, nil
}

// fetcher returns the fetcher of key and the options of its entries, from
// the first origin whose pattern matches; ok is false when none does.
func (o *origins) fetcher(key string) (fetch cache.Fetcher[json.RawMessage], opts []cache.Option, ok bool) {
	for i := range o.list {
		or := &o.list[i]
		captures, match := or.pattern.Match(key)
		if !match {
			continue
		}
		target := or.url.Expand(key, captures)
		return func(ctx context.Context) (json.RawMessage, error) {
			v, err := o.load(ctx, or, target)
			if err == nil {
				o.marks.bump(key)
			}
			return v, err
		}, or.opts, true
	}
	return nil, nil, false
}

// load GETs url. 2xx with a JSON body is the value; 404 and 410 are
// cache.ErrNotFound (cached for freshness.negativeTTL); anything else is an
// *OriginError.
func (o *origins) load(ctx context.Context, or *origin, url string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, or.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &OriginError{URL: url, Err: err}
	}
	req.Header = or.header.Clone()
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, &OriginError{URL: url, Err: err}
	}
	defer func() { _ = resp.Body.Close() }() // read fully or abandoned: nothing to report
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, fmt.Errorf("agent: origin %s answered %d: %w", url, resp.StatusCode, cache.ErrNotFound)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, &OriginError{URL: url, Status: resp.StatusCode, Err: errors.New("not a 2xx status")}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, o.maxBytes+1))
	if err != nil {
		return nil, &OriginError{URL: url, Status: resp.StatusCode, Err: fmt.Errorf("read body: %w", err)}
	}
	if int64(len(body)) > o.maxBytes {
		return nil, &OriginError{URL: url, Status: resp.StatusCode,
			Err: fmt.Errorf("%w: body larger than %d bytes", cache.ErrTooLarge, o.maxBytes)}
	}
	if !json.Valid(body) {
		return nil, &OriginError{URL: url, Status: resp.StatusCode, Err: errors.New("body is not JSON")}
	}
	return json.RawMessage(body), nil
}

// fetchMarks counts successful origin loads in a fixed array of stripes
// indexed by a hash of the key. GET compares a key's stripe before and
// after its cache read: if it moved, a load of the key (probably) finished
// meanwhile, so the answer came from the origin (X-Cache: MISS) even when
// this request joined another's fetch. Two keys sharing a stripe can make
// a hit look like a miss; the header is informational.
type fetchMarks struct {
	seed    maphash.Seed
	stripes [256]atomic.Uint64
}

func newFetchMarks() *fetchMarks { return &fetchMarks{seed: maphash.MakeSeed()} }

func (m *fetchMarks) stripe(key string) *atomic.Uint64 {
	return &m.stripes[maphash.String(m.seed, key)%uint64(len(m.stripes))]
}

func (m *fetchMarks) bump(key string) { m.stripe(key).Add(1) }

func (m *fetchMarks) read(key string) uint64 { return m.stripe(key).Load() }
