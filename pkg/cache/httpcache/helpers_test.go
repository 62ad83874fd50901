package httpcache_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/httpcache"
	"github.com/layercache/layercache/pkg/cache/memory"
)

// manualClock is a clock tests move by hand.
type manualClock struct{ now atomic.Int64 }

func newManualClock() *manualClock {
	c := &manualClock{}
	c.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *manualClock) NowNano() int64          { return c.now.Load() }
func (c *manualClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// newStack returns a Stack over one memory layer on clock (a new manual
// clock when nil), closed at the end of the test.
func newStack(t testing.TB, opts cache.Options) (*cache.Stack, *manualClock) {
	t.Helper()
	clock := newManualClock()
	opts.Clock = clock
	l, err := memory.New(memory.Options{Clock: clock})
	if err != nil {
		t.Fatalf("memory.New: %v", err)
	}
	s, err := cache.New(context.Background(), []cache.Layer{l}, opts)
	if err != nil {
		t.Fatalf("cache.New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, clock
}

// newCache returns an httpcache.Cache on a fresh Stack.
func newCache(t testing.TB, opts httpcache.Options) (*httpcache.Cache, *cache.Stack, *manualClock) {
	t.Helper()
	s, clock := newStack(t, cache.Options{})
	c, err := httpcache.New(s, opts)
	if err != nil {
		t.Fatalf("httpcache.New: %v", err)
	}
	return c, s, clock
}

// result is what a client got.
type result struct {
	status int
	header http.Header
	body   string
}

func (r result) xcache() string { return r.header.Get("X-Cache") }

// do sends one request through h.
func do(t testing.TB, h http.Handler, method, target string, header http.Header) result {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	return serve(h, req)
}

func serve(h http.Handler, req *http.Request) result {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	res := w.Result()
	body, _ := io.ReadAll(res.Body)
	return result{status: res.StatusCode, header: res.Header, body: string(body)}
}

// counter is a handler that counts its calls and answers with fn.
type counter struct {
	calls atomic.Int32
	fn    func(n int32, w http.ResponseWriter, r *http.Request)
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.fn(c.calls.Add(1), w, r)
}
