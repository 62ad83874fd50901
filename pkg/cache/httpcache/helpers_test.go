package httpcache_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/httpcache"
)

// newCache returns an httpcache.Cache on a fresh Stack.
func newCache(t testing.TB, opts httpcache.Options) (*httpcache.Cache, *cache.Stack, *cachetest.ManualClock) {
	t.Helper()
	s, clock := cachetest.NewStack(t, cache.Options{})
	c, err := httpcache.New(s, opts)
	if err != nil {
		t.Fatalf("httpcache.New: %v", err)
	}
	return c, s, clock
}

// counter is a handler that counts its calls and answers with fn.
type counter struct {
	calls atomic.Int32
	fn    func(n int32, w http.ResponseWriter, r *http.Request)
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.fn(c.calls.Add(1), w, r)
}
