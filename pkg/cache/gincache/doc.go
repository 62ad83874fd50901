// Package gincache caches gin responses in a cache.Stack. It is gin
// middleware over httpcache.Cache, with the same rules: GET and HEAD 2xx
// responses are stored (status, selected headers, body); requests that
// carry credentials are never cached unless Options.Key is set;
// concurrent requests for a missing key run the handlers once; responses
// carry X-Cache: HIT, MISS or STALE. See httpcache.Cache.Serve for the full
// contract.
//
//	r := gin.New()
//	r.GET("/items/:id", gincache.Middleware(stack, gincache.Options{TTL: time.Minute}), getItem)
//
// On a miss the handlers after the middleware run on another goroutine
// while the request's goroutine waits for them, writing to a buffer; on a
// hit they do not run (the middleware aborts the chain). A background
// refresh (stale-while-revalidate, refresh-ahead) runs after its request
// has ended and gin has reused its Context, so it runs only the route's
// final handler (Context.Handler) on a copy of the Context (Context.Copy:
// request, parameters and keys), not the middleware between the cache and
// the handler. Put the cache middleware right before the handler when the
// Stack refreshes in the background.
//
// The middleware is safe for concurrent use. It is a module of its own so
// that gin never enters the main module's go.mod.
package gincache
