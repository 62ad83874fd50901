// Package statshttp serves a cache.Stack's statistics as JSON over HTTP,
// for dashboards and debugging.
//
//	mux.Handle("GET /debug/cache", statshttp.New(stack, statshttp.Options{
//		Authorize: func(r *http.Request) bool { return isAdmin(r) },
//	}))
//
// The handler answers GET and HEAD with a [Report]: the Stack's counters
// (cache.Stats), its hit ratio, each layer's hits, misses, errors and
// whether it is degraded, and the latency of the layers timed by
// package layerstats when Options.Layers names them.
//
// It is closed by default: a request is served only when Options.AllowPublic
// is set or Options.Authorize returns true for it; every other request gets
// 403 and {"error":"forbidden"}. Counters reveal traffic patterns, so expose
// them publicly only on a private listener. Every reply, errors included,
// carries Content-Type: application/json; charset=utf-8, Cache-Control:
// no-store and X-Content-Type-Options: nosniff. Methods other than GET and
// HEAD get 405 with an Allow header (after the authorization check, so an
// unauthorized client learns nothing about the endpoint).
//
// The handler is safe for concurrent use; each request reads the counters
// once (a few atomic loads) and takes no lock the cache uses.
package statshttp
