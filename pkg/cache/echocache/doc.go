// Package echocache caches echo (v4) responses in a cache.Stack. It is
// echo middleware over httpcache.Cache, with the same rules: GET and HEAD
// 2xx responses are stored (status, selected headers, body); requests that
// carry credentials are never cached unless Options.Key is set; concurrent
// requests for a missing key run the handler once; responses carry
// X-Cache: HIT, MISS or STALE. See httpcache.Cache.Serve for the full
// contract.
//
//	e := echo.New()
//	e.GET("/items/:id", getItem, echocache.Middleware(stack, echocache.Options{TTL: time.Minute}))
//
// On a miss the next handler runs on another goroutine while the request's
// goroutine waits for it, with the Context's response swapped for a buffer.
// An error it returns (an *echo.HTTPError, say) is not cached and is
// returned to echo, whose error handler answers the request that ran it;
// an *echo.HTTPError with a code below 500 is a client error, any other
// error a failure (see httpcache.Runner). On a hit the handler does not
// run.
//
// A background refresh (stale-while-revalidate, refresh-ahead) runs after
// its request has ended and echo has reused its Context, so it runs the
// next handler with a new Context (Echo.NewContext) carrying the request,
// the route path and the path parameters, but not the values earlier
// middleware stored with Context.Set.
//
// The middleware is safe for concurrent use. It is a module of its own so
// that echo never enters the main module's go.mod.
package echocache
