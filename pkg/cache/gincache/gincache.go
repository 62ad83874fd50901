package gincache

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/httpcache"
)

// Options configures the middleware: the fields of httpcache.Options, except
// that Key and Tags receive the gin Context, so that they can read route
// parameters. The zero Options is valid.
type Options = httpcache.FrameworkOptions[*gin.Context]

// New returns gin middleware caching responses in s. It validates opts and
// returns an error that names the bad field.
func New(s *cache.Stack, opts Options) (gin.HandlerFunc, error) {
	hopts, withCtx := opts.Options()
	hc, err := httpcache.New(s, hopts)
	if err != nil {
		return nil, err
	}
	m := &middleware{hc: hc, withCtx: withCtx}
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

// serve answers one request.
func (m *middleware) serve(c *gin.Context) {
	if !m.hc.Caches(c.Request.Method) {
		c.Next()
		return
	}
	req := c.Request
	if m.withCtx {
		req = httpcache.WithFrameworkContext(req, c)
	}
	out := c.Writer
	// A background refresh runs after gin has reused c: it gets a copy
	// taken now.
	snapshot, handler := c.Copy(), c.Handler()
	ran := false
	next := func(w http.ResponseWriter, r *http.Request) error {
		ran = true
		if w == http.ResponseWriter(out) {
			c.Next() // served uncached: r is c.Request, perhaps carrying c
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
