// Package httpcache caches HTTP responses in a cache.Stack: net/http
// middleware, and the framework-neutral Cache.Serve that the gin and echo
// adapters (pkg/cache/gincache, pkg/cache/echocache) are built on.
//
//	stack, _ := cache.New(ctx, []cache.Layer{l1}, cache.Options{})
//	mux := http.NewServeMux()
//	mux.Handle("GET /items", httpcache.Middleware(stack, httpcache.Options{TTL: time.Minute})(items))
//
// # What is cached
//
// GET and HEAD responses with a 2xx status (not 206), stored as one value:
// status, the Options.Headers (Content-Type, ETag, Cache-Control, ...) and
// the body. Responses that set a cookie, carry Cache-Control no-store,
// private or no-cache, declare trailers, vary on request headers the key
// does not hold, or outgrow Options.MaxBodyBytes are served but not stored.
// Non-2xx responses are never stored, so one client cannot poison an entry
// with an error page.
//
// # Whose responses are cached
//
// By default the key is DefaultKey (method, host, path and sorted query),
// and a request that carries credentials — an Authorization, Cookie or
// API-key header, a TLS client certificate, or a query parameter such as
// token, api_key or password (HasCredentials) — is never cached: with a
// URL-derived key, one user's response would be served to every other. Set
// Options.Key to cache such requests; the key function then decides alone,
// and must keep users apart.
//
// # Stampedes, streams and failures
//
// Concurrent requests for a missing key run the handler once, through the
// Stack's single-flight fetch; see Cache.Serve for how the handler is run,
// how streaming and oversized responses reach their client, and how
// failures, breakers and stale windows are handled. Responses carry X-Cache:
// HIT, MISS or STALE.
//
// # Concurrency, ownership, panics, cancellation
//
// A Cache is safe for concurrent use. Cached values are shared between
// requests and never mutated; headers written from them are copied into the
// response. A panic in the handler is re-raised on the goroutine of the
// request that ran it, so net/http's recovery (and http.ErrAbortHandler)
// behave as without the cache. A request that ran the handler waits for it
// to return even when the client leaves; the handler's context ends when
// every request waiting for its response has left.
package httpcache
