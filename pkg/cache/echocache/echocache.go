package echocache

import (
	"errors"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/httpcache"
)

// Options configures the middleware: the fields of httpcache.Options, except
// that Key and Tags receive the echo Context, so that they can read route
// parameters. The zero Options is valid.
type Options = httpcache.FrameworkOptions[echo.Context]

// New returns echo middleware caching responses in s. It validates opts
// and returns an error that names the bad field.
func New(s *cache.Stack, opts Options) (echo.MiddlewareFunc, error) {
	hopts, withCtx := opts.Options()
	hc, err := httpcache.New(s, hopts)
	if err != nil {
		return nil, err
	}
	m := &middleware{hc: hc, withCtx: withCtx}
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

// wrap puts next behind the cache.
func (m *middleware) wrap(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if !m.hc.Caches(req.Method) {
			return next(c)
		}
		if m.withCtx {
			req = httpcache.WithFrameworkContext(req, c)
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
