package httpcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// DefaultMaxBodyBytes is the largest body cached when Options.MaxBodyBytes
// is zero.
const DefaultMaxBodyBytes = 1 << 20

// DefaultHeaders are the response headers stored with a cached response
// when Options.Headers is nil. Every other header the handler sets is
// dropped from cached responses (and from the response of the request that
// filled the cache, so that a miss and a hit look alike).
var DefaultHeaders = []string{
	"Cache-Control", "Content-Encoding", "Content-Language", "Content-Type",
	"ETag", "Expires", "Last-Modified", "Vary",
}

// Options configures a Cache. The zero Options is valid: GET and HEAD
// requests without credentials are cached under DefaultKey with the Stack's
// TTL. New never modifies the Options it is given.
type Options struct {
	// Key returns the cache key of a request, or false to serve it
	// uncached. Setting Key turns off the built-in refusals: requests that
	// carry credentials (HasCredentials) are no longer skipped and a
	// response with a Vary header is cached. The function then decides
	// alone: it must return false for per-user requests, or put the user in
	// the key, and put every request header named by the responses' Vary
	// into the key. It must be safe for concurrent use.
	//
	// default: DefaultKey, for requests without credentials only
	Key func(r *http.Request) (key string, ok bool)

	// TTL is how long a cached response stays fresh.
	//
	// default: 0 (the Stack's TTL)
	TTL time.Duration

	// Tags returns the tags a response is stored with, for
	// cache.Stack.InvalidateTag. It is called once per cached request; the
	// returned slice is not kept after the response is stored.
	//
	// default: no tags
	Tags func(r *http.Request) []string

	// MaxBodyBytes is the largest response body cached. A larger response
	// is streamed to its client as soon as it passes the limit and is not
	// cached.
	//
	// default: DefaultMaxBodyBytes (1 MiB)
	MaxBodyBytes int

	// Methods are the request methods cached; other methods pass through.
	// Only "GET" and "HEAD" are accepted (case-sensitive, as HTTP methods
	// are): the request body is not part of the key and a background
	// refresh runs the handler without it. GET and HEAD are cached under
	// different keys.
	//
	// default: GET and HEAD
	Methods []string

	// Headers are the response headers stored with a cached response, in
	// any case. "Set-Cookie" is refused: a response that sets a cookie is
	// never cached.
	//
	// default: DefaultHeaders
	Headers []string

	// CallOptions are added to every cache read, after TTL and Tags: for
	// example cache.StaleWhileRevalidate, cache.StaleIfError or
	// cache.LayerTTL. New checks them against the Stack.
	//
	// default: none
	CallOptions []cache.Option
}

// config is Options with defaults applied and the per-call options built.
type config struct {
	key      func(*http.Request) (string, bool)
	custom   bool // Options.Key was set
	tags     func(*http.Request) []string
	maxBody  int
	get      bool
	head     bool
	headers  []string // canonical names
	callOpts []cache.Option
}

// resolve validates o and fills in defaults. Every error names the field.
func (o *Options) resolve(v *cache.View[cachedResponse]) (config, error) {
	cfg := config{key: o.Key, custom: o.Key != nil, tags: o.Tags, maxBody: o.MaxBodyBytes}
	if cfg.key == nil {
		cfg.key = defaultKey
	}
	if o.TTL < 0 {
		return cfg, fmt.Errorf("httpcache: Options.TTL is %s; it must not be negative", o.TTL)
	}
	switch {
	case o.MaxBodyBytes < 0:
		return cfg, fmt.Errorf("httpcache: Options.MaxBodyBytes is %d; it must not be negative", o.MaxBodyBytes)
	case o.MaxBodyBytes == 0:
		cfg.maxBody = DefaultMaxBodyBytes
	}
	methods := o.Methods
	if methods == nil {
		methods = []string{http.MethodGet, http.MethodHead}
	}
	if len(methods) == 0 {
		return cfg, errors.New("httpcache: Options.Methods is empty; leave it nil for GET and HEAD")
	}
	for _, m := range methods {
		switch m {
		case http.MethodGet:
			cfg.get = true
		case http.MethodHead:
			cfg.head = true
		default:
			return cfg, fmt.Errorf("httpcache: Options.Methods: %q cannot be cached; only GET and HEAD are supported", m)
		}
	}
	headers := o.Headers
	if headers == nil {
		headers = DefaultHeaders
	}
	for _, h := range headers {
		name := http.CanonicalHeaderKey(h)
		switch name {
		case "":
			return cfg, errors.New("httpcache: Options.Headers holds an empty name")
		case "Set-Cookie":
			return cfg, errors.New("httpcache: Options.Headers: Set-Cookie cannot be stored; responses that set cookies are never cached")
		}
		cfg.headers = append(cfg.headers, name)
	}
	if o.TTL > 0 {
		cfg.callOpts = append(cfg.callOpts, cache.TTL(o.TTL))
	}
	cfg.callOpts = append(cfg.callOpts, o.CallOptions...)
	// A response that must not be cached reaches the engine as "not found"
	// (see errPass); this keeps it from being stored as a negative entry.
	cfg.callOpts = append(cfg.callOpts, cache.NegativeTTL(0))
	// WrapKey checks options against the Stack without reading or writing
	// anything, so a bad option fails here rather than on every request.
	noKey := func(struct{}) (string, error) { return "", nil }
	noFn := func(context.Context, struct{}) (cachedResponse, error) { return cachedResponse{}, nil }
	if _, err := cache.WrapKey(v, noKey, noFn, cfg.callOpts...); err != nil {
		return cfg, fmt.Errorf("httpcache: Options.CallOptions: %w", err)
	}
	return cfg, nil
}

// cacheable reports whether requests with method m are cached.
func (cfg *config) cacheable(m string) bool {
	return (m == http.MethodGet && cfg.get) || (m == http.MethodHead && cfg.head)
}
