package gincache

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/httpcache"
)

// Options configures the middleware. The fields mean what they mean in
// httpcache.Options, except that Key and Tags receive the gin Context, so
// that they can read route parameters. The zero Options is valid.
type Options struct {
	// Key returns the cache key of a request, or false to serve it
	// uncached. Setting it turns off the credential and Vary refusals, as
	// httpcache.Options.Key does. It is called on the request's goroutine
	// before the handlers run.
	//
	// default: httpcache.DefaultKey, for requests without credentials only
	Key func(c *gin.Context) (key string, ok bool)

	// Tags returns the tags a response is stored with.
	//
	// default: no tags
	Tags func(c *gin.Context) []string

	// TTL is how long a cached response stays fresh.
	//
	// default: 0 (the Stack's TTL)
	TTL time.Duration

	// MaxBodyBytes is the largest response body cached.
	//
	// default: httpcache.DefaultMaxBodyBytes (1 MiB)
	MaxBodyBytes int

	// Methods are the request methods cached: "GET", "HEAD" or both.
	//
	// default: GET and HEAD
	Methods []string

	// Headers are the response headers stored with a cached response.
	//
	// default: httpcache.DefaultHeaders
	Headers []string

	// CallOptions are added to every cache read (stale windows, per-layer
	// TTLs, ...).
	//
	// default: none
	CallOptions []cache.Option
}

// ctxKey carries the gin Context to the Key and Tags adapters. They are
// called by httpcache.Cache.Serve on the request's goroutine before any
// handler runs, while the Context is the request's.
type ctxKey struct{}

// New returns gin middleware caching responses in s. It validates opts and
// returns an error that names the bad field.
func New(s *cache.Stack, opts Options) (gin.HandlerFunc, error) {
	hopts := httpcache.Options{
		TTL: opts.TTL, MaxBodyBytes: opts.MaxBodyBytes, Methods: opts.Methods,
		Headers: opts.Headers, CallOptions: opts.CallOptions,
	}
	if opts.Key != nil {
		hopts.Key = func(r *http.Request) (string, bool) { return opts.Key(ginContext(r)) }
	}
	if opts.Tags != nil {
		hopts.Tags = func(r *http.Request) []string { return opts.Tags(ginContext(r)) }
	}
	hc, err := httpcache.New(s, hopts)
	if err != nil {
		return nil, err
	}
	m := &middleware{hc: hc, withCtx: opts.Key != nil || opts.Tags != nil}
	return m.serve, nil
}

// middleware is the state New builds.
type middleware struct {
	hc      *httpcache.Cache
	withCtx bool // Key or Tags needs the gin Context
}

// Middleware is New for static configuration: it panics if opts are
// invalid.
func Middleware(s *cache.Stack, opts Options) gin.HandlerFunc {
	h, err := New(s, opts)
	if err != nil {
		panic(err)
	}
	return h
}

func ginContext(r *http.Request) *gin.Context {
	c, _ := r.Context().Value(ctxKey{}).(*gin.Context)
	return c
}

// serve answers one request.
func (m *middleware) serve(c *gin.Context) {
	if !m.hc.Caches(c.Request.Method) {
		c.Next()
		return
	}
	req := c.Request
	if m.withCtx {
		req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, c))
	}
	out := c.Writer
	// A background refresh runs after gin has reused c: it gets a copy
	// taken now.
	snapshot, handler := c.Copy(), c.Handler()
	ran := false
	next := func(w http.ResponseWriter, r *http.Request) error {
		ran = true
		if w == http.ResponseWriter(out) {
			c.Next() // served uncached: r is c.Request, perhaps with ctxKey
			return nil
		}
		// Filling the cache, on another goroutine while serve waits.
		prevW, prevR := c.Writer, c.Request
		defer func() { c.Writer, c.Request = prevW, prevR }()
		gw := newWriter(w)
		c.Writer, c.Request = gw, r
		c.Next()
		gw.WriteHeaderNow()
		return nil
	}
	refresh := func(w http.ResponseWriter, r *http.Request) error {
		cp := snapshot.Copy()
		gw := newWriter(w)
		cp.Writer, cp.Request = gw, r
		handler(cp)
		gw.WriteHeaderNow()
		return nil
	}
	_ = m.hc.Serve(out, req, next, refresh) // the runners never fail
	if !ran {
		c.Abort() // answered from the cache: the handlers must not run
	}
}
