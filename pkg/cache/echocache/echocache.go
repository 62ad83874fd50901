package echocache

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/httpcache"
)

// Options configures the middleware. The fields mean what they mean in
// httpcache.Options, except that Key and Tags receive the echo Context, so
// that they can read path parameters. The zero Options is valid.
type Options struct {
	// Key returns the cache key of a request, or false to serve it
	// uncached. Setting it turns off the credential and Vary refusals, as
	// httpcache.Options.Key does. It is called on the request's goroutine
	// before the handler runs.
	//
	// default: httpcache.DefaultKey, for requests without credentials only
	Key func(c echo.Context) (key string, ok bool)

	// Tags returns the tags a response is stored with.
	//
	// default: no tags
	Tags func(c echo.Context) []string

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

// ctxKey carries the echo Context to the Key and Tags adapters. They are
// called by httpcache.Cache.Serve on the request's goroutine before the
// handler runs, while the Context is the request's.
type ctxKey struct{}

// New returns echo middleware caching responses in s. It validates opts
// and returns an error that names the bad field.
func New(s *cache.Stack, opts Options) (echo.MiddlewareFunc, error) {
	hopts := httpcache.Options{
		TTL: opts.TTL, MaxBodyBytes: opts.MaxBodyBytes, Methods: opts.Methods,
		Headers: opts.Headers, CallOptions: opts.CallOptions,
	}
	if opts.Key != nil {
		hopts.Key = func(r *http.Request) (string, bool) { return opts.Key(echoContext(r)) }
	}
	if opts.Tags != nil {
		hopts.Tags = func(r *http.Request) []string { return opts.Tags(echoContext(r)) }
	}
	hc, err := httpcache.New(s, hopts)
	if err != nil {
		return nil, err
	}
	m := &middleware{hc: hc, withCtx: opts.Key != nil || opts.Tags != nil}
	return m.wrap, nil
}

// Middleware is New for static configuration: it panics if opts are
// invalid.
func Middleware(s *cache.Stack, opts Options) echo.MiddlewareFunc {
	mw, err := New(s, opts)
	if err != nil {
		panic(err)
	}
	return mw
}

// middleware is the state New builds.
type middleware struct {
	hc      *httpcache.Cache
	withCtx bool // Key or Tags needs the echo Context
}

func echoContext(r *http.Request) echo.Context {
	c, _ := r.Context().Value(ctxKey{}).(echo.Context)
	return c
}

// wrap puts next behind the cache.
func (m *middleware) wrap(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if !m.hc.Caches(req.Method) {
			return next(c)
		}
		if m.withCtx {
			req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, c))
		}
		out := c.Response()
		// A background refresh runs after echo has reused c: it gets what
		// it needs now.
		e, path := c.Echo(), c.Path()
		names, values := slices.Clone(c.ParamNames()), slices.Clone(c.ParamValues())
		run := func(w http.ResponseWriter, r *http.Request) error {
			if w == http.ResponseWriter(out) {
				return next(c) // served uncached
			}
			// Filling the cache, on another goroutine while wrap waits.
			prevReq := c.Request()
			defer func() { c.SetResponse(out); c.SetRequest(prevReq) }()
			c.SetResponse(echo.NewResponse(w, e))
			c.SetRequest(r)
			return classify(next(c))
		}
		refresh := func(w http.ResponseWriter, r *http.Request) error {
			rc := e.NewContext(r, w)
			rc.SetPath(path)
			rc.SetParamNames(names...)
			rc.SetParamValues(values...)
			return classify(next(rc))
		}
		err := m.hc.Serve(out, req, run, refresh)
		if ce, ok := errors.AsType[*classified](err); ok {
			return ce.err // echo's error handler matches *echo.HTTPError by type
		}
		return err
	}
}

// classified tells httpcache whether an error of a handler is a client
// error (an *echo.HTTPError with a code below 500).
type classified struct {
	err  error
	code int
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() error   { return e.err }
func (e *classified) StatusCode() int { return e.code }

func classify(err error) error {
	if err == nil {
		return nil
	}
	code := http.StatusInternalServerError
	if he, ok := errors.AsType[*echo.HTTPError](err); ok {
		code = he.Code
	}
	return &classified{err: err, code: code}
}
