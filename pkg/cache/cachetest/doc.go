// Package cachetest is test support for code built on the cache engine: the
// engine's own tests, its framework integrations (httpcache, gincache,
// echocache, grpccache, gqlcache, otelcache), and users testing their own
// handlers, resolvers and services over a [cache.Stack].
//
// It offers three things, each written once here so that every test suite
// uses the same ones:
//
//   - [ManualClock], a clock that moves only when the test says so, so that
//     TTLs, staleness and refresh windows are driven without sleeping;
//   - [NewStack], a Stack over one memory layer, both on a new ManualClock,
//     closed when the test ends;
//   - [Do], which serves one request through an [net/http.Handler] with
//     httptest and returns the [Response] the client got.
//
// The package is meant to be imported only from _test.go files. Its API is
// stable: it follows the module's compatibility promise like any other
// package, so users may build their own tests on it.
//
// Tests of package cache itself that are written in package cache (not
// cache_test) cannot import cachetest, because cachetest imports cache.
package cachetest
