package httpcache

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/breaker"
	"github.com/layercache/layercache/pkg/cache/ratelimit"
)

// Runner runs the rest of a handler chain for r, writing the response to
// w. Frameworks whose handlers return errors (echo) return them: a non-nil
// error means the response is not cached, and Serve returns the error to
// the caller whose request ran it. If the error has a StatusCode() int
// method, a code below 500 marks a client error; any other error is
// treated as a server failure (see Serve).
type Runner func(w http.ResponseWriter, r *http.Request) error

// Cache answers requests from a cache.Stack, running the handler only on a
// miss. Create it with New; it is safe for concurrent use. Handler adapts
// it to net/http; gincache and echocache adapt Serve to their frameworks.
type Cache struct {
	view *cache.View[cachedResponse]
	cfg  config
}

// Caches reports whether requests with method are cached (Options.Methods,
// with its default). Framework adapters use it to pass other requests on.
func (c *Cache) Caches(method string) bool { return c.cfg.cacheable(method) }

// New returns a Cache storing responses in s. It validates opts and returns
// an error that names the bad field.
func New(s *cache.Stack, opts Options) (*Cache, error) {
	if s == nil {
		return nil, errors.New("httpcache: New needs a cache.Stack")
	}
	v := cache.Typed[cachedResponse](s)
	cfg, err := opts.resolve(v)
	if err != nil {
		return nil, err
	}
	return &Cache{view: v, cfg: cfg}, nil
}

// Middleware returns net/http middleware caching responses in s: the
// standard func(http.Handler) http.Handler that http.ServeMux wrappers, chi's
// Use and alice-style chains accept. It panics if opts are invalid, as
// regexp.MustCompile does; use New to get the error instead.
func Middleware(s *cache.Stack, opts Options) func(http.Handler) http.Handler {
	c, err := New(s, opts)
	if err != nil {
		panic(err)
	}
	return c.Handler
}

// Handler returns next behind the cache. See Serve for what is cached and
// how a request is answered.
func (c *Cache) Handler(next http.Handler) http.Handler {
	run := func(w http.ResponseWriter, r *http.Request) error {
		next.ServeHTTP(w, r)
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = c.Serve(w, r, run, run) // run never fails
	})
}

// Serve answers r on w from the cache, running next on a miss. It is the
// framework-neutral core of the middleware.
//
// A request is served uncached and without X-Cache (next runs on the
// caller's goroutine, with w and r) when its method is not in Options.Methods, when it asks for a
// protocol upgrade, or when the key resolver returns false. By default that
// is every request that carries credentials (HasCredentials).
//
// Otherwise the cache is read. Concurrent requests for a key that is not
// cached run next once: it runs on another goroutine, writing to a buffer,
// while the request that started it waits, and its r is a clone whose
// conditional headers (If-None-Match, If-Modified-Since, If-Range, Range)
// are removed so that it produces the full response; every waiting request
// is then answered from that response, and a conditional request gets 304
// Not Modified when the cached validators match. The response is stored if
// its status is 2xx other than 206, it has no Set-Cookie, no Trailer, no
// Cache-Control no-store, private or no-cache, no Vary (unless Options.Key
// is set; never Vary: *), and its body fits Options.MaxBodyBytes. Only the
// Options.Headers are kept.
//
// A response that cannot be stored goes, complete, to the request that ran
// next; the requests that waited for it run next themselves. A body that
// outgrows MaxBodyBytes, or a handler that flushes, streams to the client
// from then on. A failure of next (status 5xx, a panic, a Runner error that
// is not a client error) counts as a fetch failure for the Stack's
// breaker, and inside a stale-if-error window the stale response is served
// instead; a panic is re-raised on the caller's goroutine otherwise.
//
// The X-Cache header says how a cached response was served: MISS when this
// request ran next, HIT when it came from the cache or from a concurrent
// request's run, STALE when the entry was past its TTL (served inside a
// stale-while-revalidate or stale-if-error window). HIT and STALE responses
// carry Age. STALE for stale-while-revalidate is read from the Stack right
// after the response was served, so a refresh that completes in between
// makes it HIT.
//
// Background refreshes (stale-while-revalidate, refresh-ahead) run refresh
// with a clone of r whose context keeps r's values but not its
// cancellation, after the request may have ended; refresh must not use
// anything the request owned. With refresh nil they are skipped.
//
// When the Stack fails (closed, a layer down, an invalid key) the request is
// served uncached, with X-Cache: MISS. When a breaker or rate limiter of the Stack refuses the
// fetch, Serve answers 503 Service Unavailable, with Retry-After when the
// breaker says when it closes.
//
// Serve returns the error of next or refresh when it ran for this request,
// and nil otherwise.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, next, refresh Runner) error {
	if !c.cfg.cacheable(r.Method) || upgrade(r) {
		return next(w, r)
	}
	key, ok := c.cfg.key(r)
	if !ok || cache.ValidateKey(key) != nil {
		return next(w, r)
	}
	opts := c.cfg.callOpts
	if c.cfg.tags != nil {
		if tags := c.cfg.tags(r); len(tags) > 0 {
			opts = append(opts[:len(opts):len(opts)], cache.Tags(tags...))
		}
	}
	f := &flight{cfg: &c.cfg, w: w, r: r, next: next, refresh: refresh}
	resp, err := c.view.Get(context.WithValue(r.Context(), flightKey{}, f), key, f.fetch, opts...)
	f.leave()
	out := &f.out // settled: leave waited for this request's own run
	switch {
	case err == nil:
		state := xCacheHit
		switch {
		case out.ran && out.failed:
			state = xCacheStale // stale-if-error
		case out.ran:
			state = xCacheMiss
		case c.stale(r.Context(), key):
			state = xCacheStale
		}
		var age time.Duration
		if state != xCacheMiss {
			age = max(time.Since(time.Unix(0, resp.StoredAt)), 0)
		}
		resp.write(w, r, state, age)
		return nil
	case out.ran:
		return out.answer(w, r)
	case r.Context().Err() != nil:
		return nil // the client left; nobody reads an answer
	case errors.Is(err, breaker.ErrOpen) || errors.Is(err, ratelimit.ErrLimited):
		unavailable(w, err)
		return nil
	}
	// Another request's run could not be shared, or the cache failed:
	// serve this one uncached.
	w.Header().Set(headerXCache, xCacheMiss)
	return next(w, r)
}

// stale reports whether key's value is past its TTL. It reads the layers
// again, so it is only asked after a hit.
func (c *Cache) stale(ctx context.Context, key string) bool {
	_, fresh, err := c.view.Stack().TTL(ctx, key)
	return err == nil && !fresh
}

// unavailable answers a request whose fetch a breaker or rate limiter
// refused.
func unavailable(w http.ResponseWriter, err error) {
	if oe, ok := errors.AsType[*breaker.OpenError](err); ok && oe.RetryAfter > 0 {
		secs := int64(math.Ceil(oe.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
}
