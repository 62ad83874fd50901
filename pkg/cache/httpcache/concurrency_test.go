package httpcache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/httpcache"
)

// concurrently sends n identical requests through h while the handler is
// held, waits until every one of them is blocked, releases the handler and
// returns the results. It must run inside a synctest bubble.
func concurrently(t *testing.T, h http.Handler, n int, release chan<- struct{}) []cachetest.Response {
	t.Helper()
	results := make([]cachetest.Response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = cachetest.Do(h, "GET", "/same", nil) })
	}
	synctest.Wait() // every request is in the handler or waiting for it
	close(release)
	wg.Wait()
	return results
}

func TestStampedeRunsTheHandlerOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newCache(t, httpcache.Options{})
		release := make(chan struct{})
		h := &counter{fn: func(_ int32, w http.ResponseWriter, _ *http.Request) {
			<-release
			_, _ = fmt.Fprint(w, "shared")
		}}
		results := concurrently(t, c.Handler(h), 8, release)
		if got := h.calls.Load(); got != 1 {
			t.Errorf("handler ran %d times for 8 concurrent requests, want 1", got)
		}
		counts := map[string]int{}
		for i, r := range results {
			if r.Body != "shared" {
				t.Errorf("request %d: body %q, want %q", i, r.Body, "shared")
			}
			counts[r.Header.Get("X-Cache")]++
		}
		if counts["MISS"] != 1 || counts["HIT"] != 7 {
			t.Errorf("X-Cache counts %v, want 1 MISS and 7 HIT", counts)
		}
	})
}

// TestStampedeNeverSharesPrivateResponses checks that requests that waited
// on a response that cannot be stored do not get it: each runs the handler
// and gets its own cookie.
func TestStampedeNeverSharesPrivateResponses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newCache(t, httpcache.Options{})
		release := make(chan struct{})
		h := &counter{fn: func(n int32, w http.ResponseWriter, _ *http.Request) {
			<-release
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: fmt.Sprint(n)})
			_, _ = fmt.Fprint(w, "personal")
		}}
		results := concurrently(t, c.Handler(h), 5, release)
		if got := h.calls.Load(); got != 5 {
			t.Errorf("handler ran %d times, want 5 (one per request)", got)
		}
		seen := map[string]bool{}
		for i, r := range results {
			cookie := r.Header.Get("Set-Cookie")
			if cookie == "" || seen[cookie] {
				t.Errorf("request %d: Set-Cookie %q missing or shared with another request", i, cookie)
			}
			seen[cookie] = true
		}
	})
}

func TestStreamingResponseSpills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newCache(t, httpcache.Options{})
		start, resume := make(chan struct{}), make(chan struct{})
		flushed := make(chan struct{})
		h := &counter{fn: func(n int32, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				<-start
			}
			_, _ = fmt.Fprint(w, "event 1\n")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			if n == 1 {
				close(flushed)
				<-resume
			}
			_, _ = fmt.Fprint(w, "event 2\n")
		}}
		srv := c.Handler(h)

		// The first request starts the stream; the second joins its fetch.
		w1 := httptest.NewRecorder()
		done1 := make(chan struct{})
		go func() {
			defer close(done1)
			srv.ServeHTTP(w1, httptest.NewRequest("GET", "/events", nil))
		}()
		synctest.Wait()
		var second cachetest.Response
		done2 := make(chan struct{})
		go func() {
			defer close(done2)
			second = cachetest.Do(srv, "GET", "/events", nil)
		}()
		synctest.Wait()
		close(start)
		<-flushed
		// The first stream is still open, but the second request was let go
		// and ran the handler itself.
		<-done2
		if second.Body != "event 1\nevent 2\n" || second.Header.Get("X-Cache") != "MISS" {
			t.Errorf("second request: body %q X-Cache %q, want both events and MISS", second.Body, second.Header.Get("X-Cache"))
		}
		synctest.Wait()
		if !w1.Flushed || w1.Body.String() != "event 1\n" {
			t.Errorf("first client before the stream ends: flushed %v, body %q; want event 1 delivered", w1.Flushed, w1.Body.String())
		}
		close(resume)
		<-done1
		if got := w1.Body.String(); got != "event 1\nevent 2\n" || w1.Header().Get("X-Cache") != "MISS" {
			t.Errorf("first client: body %q X-Cache %q, want both events and MISS", got, w1.Header().Get("X-Cache"))
		}
		if got := h.calls.Load(); got != 2 {
			t.Errorf("handler ran %d times, want 2", got)
		}
	})
}

func TestLargeBodyStreamsUncached(t *testing.T) {
	c, _, _ := newCache(t, httpcache.Options{MaxBodyBytes: 10})
	h := &counter{fn: func(_ int32, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for range 5 {
			_, _ = fmt.Fprint(w, "0123456789")
		}
	}}
	srv := c.Handler(h)
	for i := range 2 {
		got := cachetest.Do(srv, "GET", "/big", nil)
		if len(got.Body) != 50 || got.Header.Get("Content-Type") != "text/plain" || got.Header.Get("X-Cache") != "MISS" {
			t.Errorf("request %d: %d bytes, Content-Type %q, X-Cache %q; want 50 bytes, text/plain, MISS",
				i, len(got.Body), got.Header.Get("Content-Type"), got.Header.Get("X-Cache"))
		}
	}
	if got := h.calls.Load(); got != 2 {
		t.Errorf("handler ran %d times, want 2", got)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s, clock := newCache(t, httpcache.Options{TTL: time.Minute,
			CallOptions: []cache.Option{cache.StaleWhileRevalidate(time.Minute)}})
		release := make(chan struct{})
		h := &counter{fn: func(n int32, w http.ResponseWriter, r *http.Request) {
			if n == 2 {
				<-release // the background refresh
			}
			_, _ = fmt.Fprintf(w, "%s v%d", r.PathValue("id"), n)
		}}
		mux := http.NewServeMux()
		mux.Handle("GET /items/{id}", c.Handler(h))

		steps := []struct {
			name, body, xcache string
			before             func()
		}{
			{"fill", "7 v1", "MISS", nil},
			{"fresh", "7 v1", "HIT", nil},
			{"stale", "7 v1", "STALE", func() { clock.Advance(90 * time.Second) }},
			{"refreshed", "7 v2", "HIT", func() {
				close(release)
				synctest.Wait() // the refresh has stored v2
			}},
		}
		for _, st := range steps {
			if st.before != nil {
				st.before()
			}
			got := cachetest.Do(mux, "GET", "/items/7", nil)
			if got.Body != st.body || got.Header.Get("X-Cache") != st.xcache {
				t.Errorf("%s: got %q X-Cache %q, want %q %q", st.name, got.Body, got.Header.Get("X-Cache"), st.body, st.xcache)
			}
		}
		if got := s.Stats().Refreshes; got != 1 {
			t.Errorf("Stack ran %d refreshes, want 1", got)
		}
	})
}

func TestStaleIfError(t *testing.T) {
	c, _, clock := newCache(t, httpcache.Options{TTL: time.Minute,
		CallOptions: []cache.Option{cache.StaleIfError(time.Minute)}})
	h := &counter{fn: func(n int32, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 2:
			http.Error(w, "down", http.StatusBadGateway)
		case 3:
			http.Error(w, "gone", http.StatusNotFound)
		default:
			_, _ = fmt.Fprintf(w, "v%d", n)
		}
	}}
	srv := c.Handler(h)
	steps := []struct {
		name, body, xcache string
		status             int
		advance            time.Duration
	}{
		{"fill", "v1", "MISS", 200, 0},
		{"5xx inside the window serves stale", "v1", "STALE", 200, 90 * time.Second},
		{"404 is an answer, not a failure", "gone\n", "MISS", 404, 0},
		{"recovered", "v4", "MISS", 200, 0},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		got := cachetest.Do(srv, "GET", "/", nil)
		if got.Status != st.status || got.Body != st.body || got.Header.Get("X-Cache") != st.xcache {
			t.Errorf("%s: got %d %q X-Cache %q, want %d %q %q", st.name, got.Status, got.Body, got.Header.Get("X-Cache"), st.status, st.body, st.xcache)
		}
	}
}

func TestClientLeavesWhileTheHandlerRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _, _ := newCache(t, httpcache.Options{})
		cancelled := make(chan struct{})
		srv := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			close(cancelled)
		}))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, "GET", "/slow", nil))
		}()
		synctest.Wait()
		cancel()
		<-cancelled // the only caller left: the handler's context ended
		<-done
	})
}
