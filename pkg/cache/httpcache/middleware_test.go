package httpcache_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/breaker"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/httpcache"
)

func TestMissThenHit(t *testing.T) {
	c, _, clock := newCache(t, httpcache.Options{TTL: time.Minute})
	h := &counter{fn: func(n int32, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("X-Internal", "dropped")
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, "hello %s", r.URL.Query().Get("name"))
	}}
	mux := http.NewServeMux()
	mux.Handle("GET /greet", c.Handler(h))

	first := cachetest.Do(mux, "GET", "/greet?name=ann", nil)
	clock.Advance(10 * time.Second)
	second := cachetest.Do(mux, "GET", "/greet?name=ann", nil)

	for _, tc := range []struct {
		name   string
		got    cachetest.Response
		xcache string
	}{{"first", first, "MISS"}, {"second", second, "HIT"}} {
		if tc.got.Status != http.StatusCreated || tc.got.Body != "hello ann" || tc.got.Header.Get("X-Cache") != tc.xcache {
			t.Errorf("%s request: got %d %q X-Cache %q, want 201 %q X-Cache %q",
				tc.name, tc.got.Status, tc.got.Body, tc.got.Header.Get("X-Cache"), "hello ann", tc.xcache)
		}
		if got := tc.got.Header.Get("Content-Type"); got != "text/plain" {
			t.Errorf("%s request: Content-Type %q, want text/plain", tc.name, got)
		}
		if got := tc.got.Header.Get("Etag"); got != `"v1"` {
			t.Errorf("%s request: ETag %q, want %q", tc.name, got, `"v1"`)
		}
		if got := tc.got.Header.Get("X-Internal"); got != "" {
			t.Errorf("%s request: X-Internal %q; headers outside Options.Headers must not be served", tc.name, got)
		}
	}
	if got := h.calls.Load(); got != 1 {
		t.Errorf("handler ran %d times, want 1", got)
	}
	if got := second.Header.Get("Age"); got == "" {
		t.Errorf("HIT has no Age header")
	}
	// A different query is a different key.
	if got := cachetest.Do(mux, "GET", "/greet?name=bob", nil); got.Header.Get("X-Cache") != "MISS" || got.Body != "hello bob" {
		t.Errorf("other query: got X-Cache %q body %q, want MISS %q", got.Header.Get("X-Cache"), got.Body, "hello bob")
	}
}

// TestNotStored covers responses that are served to their client, complete,
// but never stored: the next request runs the handler again.
func TestNotStored(t *testing.T) {
	tests := []struct {
		name    string
		opts    httpcache.Options
		respond func(w http.ResponseWriter)
		status  int
	}{
		{"404", httpcache.Options{}, func(w http.ResponseWriter) { http.Error(w, "nope", http.StatusNotFound) }, 404},
		{"500", httpcache.Options{}, func(w http.ResponseWriter) { http.Error(w, "boom", http.StatusInternalServerError) }, 500},
		{"302", httpcache.Options{}, func(w http.ResponseWriter) {
			w.Header().Set("Location", "/x")
			w.WriteHeader(http.StatusFound)
		}, 302},
		{"206", httpcache.Options{}, func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusPartialContent)
			_, _ = fmt.Fprint(w, "part")
		}, 206},
		{"set-cookie", httpcache.Options{}, func(w http.ResponseWriter) {
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "secret"})
			_, _ = fmt.Fprint(w, "ok")
		}, 200},
		{"no-store", httpcache.Options{}, func(w http.ResponseWriter) {
			w.Header().Set("Cache-Control", "no-store")
			_, _ = fmt.Fprint(w, "ok")
		}, 200},
		{"private", httpcache.Options{}, func(w http.ResponseWriter) {
			w.Header().Set("Cache-Control", "max-age=60, Private")
			_, _ = fmt.Fprint(w, "ok")
		}, 200},
		{"no-cache", httpcache.Options{}, func(w http.ResponseWriter) {
			w.Header().Set("Cache-Control", `no-cache="Set-Cookie"`)
			_, _ = fmt.Fprint(w, "ok")
		}, 200},
		{"vary with default key", httpcache.Options{}, func(w http.ResponseWriter) {
			w.Header().Set("Vary", "Accept-Encoding")
			_, _ = fmt.Fprint(w, "ok")
		}, 200},
		{"vary star with custom key", httpcache.Options{Key: func(r *http.Request) (string, bool) { return "k", true }}, func(w http.ResponseWriter) {
			w.Header().Set("Vary", "*")
			_, _ = fmt.Fprint(w, "ok")
		}, 200},
		{"trailer", httpcache.Options{}, func(w http.ResponseWriter) {
			w.Header().Set("Trailer", "X-Sum")
			_, _ = fmt.Fprint(w, "ok")
			w.Header().Set("X-Sum", "1")
		}, 200},
		{"too large", httpcache.Options{MaxBodyBytes: 8}, func(w http.ResponseWriter) {
			_, _ = fmt.Fprint(w, "0123456789abcdef")
		}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, s, _ := newCache(t, tc.opts)
			h := &counter{fn: func(_ int32, w http.ResponseWriter, _ *http.Request) { tc.respond(w) }}
			srv := c.Handler(h)
			for i := range 2 {
				got := cachetest.Do(srv, "GET", "/r", nil)
				if got.Status != tc.status || got.Header.Get("X-Cache") != "MISS" {
					t.Errorf("request %d: got %d X-Cache %q, want %d MISS", i, got.Status, got.Header.Get("X-Cache"), tc.status)
				}
			}
			if got := h.calls.Load(); got != 2 {
				t.Errorf("handler ran %d times, want 2 (nothing stored)", got)
			}
			if st := s.Stats(); st.Sets != 0 {
				t.Errorf("Stack recorded %d sets, want 0", st.Sets)
			}
		})
	}
}

func TestPassThroughKeepsTheResponse(t *testing.T) {
	c, _, _ := newCache(t, httpcache.Options{})
	srv := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s1"})
		w.Header().Set("X-Custom", "kept")
		w.WriteHeader(http.StatusAccepted)
		_, _ = fmt.Fprint(w, "body")
	}))
	got := cachetest.Do(srv, "GET", "/", nil)
	if got.Status != http.StatusAccepted || got.Body != "body" || got.Header.Get("Set-Cookie") == "" || got.Header.Get("X-Custom") != "kept" {
		t.Errorf("got %d %q headers %v; an unstored response must reach its client whole", got.Status, got.Body, got.Header)
	}
}

// TestBypass covers requests that are never read from nor written to the
// cache.
func TestBypass(t *testing.T) {
	tests := []struct {
		name   string
		method string
		target string
		header http.Header
	}{
		{"authorization", "GET", "/", http.Header{"Authorization": {"Bearer x"}}},
		{"cookie", "GET", "/", http.Header{"Cookie": {"sid=1"}}},
		{"api key header", "GET", "/", http.Header{"X-Api-Key": {"k"}}},
		{"token param", "GET", "/?token=abc", nil},
		{"access_token param", "GET", "/?Access_Token=abc", nil},
		{"api-key param", "GET", "/?api-key=abc", nil},
		{"unparsable query", "GET", "/?a=%zz", nil},
		{"post", "POST", "/", nil},
		{"websocket upgrade", "GET", "/", http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, s, _ := newCache(t, httpcache.Options{})
			h := &counter{fn: func(n int32, w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintf(w, "call %d", n) }}
			srv := c.Handler(h)
			for i := range 2 {
				got := cachetest.Do(srv, tc.method, tc.target, tc.header)
				if want := fmt.Sprintf("call %d", i+1); got.Body != want || got.Header.Get("X-Cache") != "" {
					t.Errorf("request %d: got %q X-Cache %q, want %q and no X-Cache", i, got.Body, got.Header.Get("X-Cache"), want)
				}
			}
			if st := s.Stats(); st.Hits+st.Misses != 0 {
				t.Errorf("the cache was read %d times, want 0", st.Hits+st.Misses)
			}
		})
	}
}

func TestCustomKey(t *testing.T) {
	// The key resolver takes over: it caches per user, and refuses admins.
	c, _, _ := newCache(t, httpcache.Options{Key: func(r *http.Request) (string, bool) {
		user := r.Header.Get("Authorization")
		if user == "admin" {
			return "", false
		}
		return "user:" + user + ":" + r.URL.Path + ":" + r.Header.Get("Accept-Language"), true
	}})
	h := &counter{fn: func(n int32, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Vary", "Accept-Language")
		_, _ = fmt.Fprintf(w, "%s call %d", r.Header.Get("Authorization"), n)
	}}
	srv := c.Handler(h)
	tests := []struct {
		user, want, xcache string
	}{
		{"ann", "ann call 1", "MISS"},
		{"bob", "bob call 2", "MISS"},
		{"ann", "ann call 1", "HIT"},
		{"admin", "admin call 3", ""},
		{"admin", "admin call 4", ""},
	}
	for i, tc := range tests {
		got := cachetest.Do(srv, "GET", "/me", http.Header{"Authorization": {tc.user}})
		if got.Body != tc.want || got.Header.Get("X-Cache") != tc.xcache {
			t.Errorf("request %d as %s: got %q X-Cache %q, want %q X-Cache %q", i, tc.user, got.Body, got.Header.Get("X-Cache"), tc.want, tc.xcache)
		}
		if tc.xcache == "HIT" && got.Header.Get("Vary") != "Accept-Language" {
			t.Errorf("request %d: Vary %q, want it kept", i, got.Header.Get("Vary"))
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	lastMod := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, _, _ := newCache(t, httpcache.Options{})
	srv := c.Handler(&counter{fn: func(_ int32, w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"If-None-Match", "If-Modified-Since", "Range"} {
			if v := r.Header.Get(h); v != "" {
				t.Errorf("the handler filling the cache saw %s: %q", h, v)
			}
		}
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
		w.Header().Set("Content-Type", "text/plain")
		_, _ = fmt.Fprint(w, "full body")
	}})
	tests := []struct {
		name   string
		header http.Header
		status int
		xcache string
	}{
		{"miss with matching etag", http.Header{"If-None-Match": {`"abc"`}}, 304, "MISS"},
		{"hit with weak matching etag", http.Header{"If-None-Match": {`W/"zzz", W/"abc"`}}, 304, "HIT"},
		{"hit with other etag", http.Header{"If-None-Match": {`"zzz"`}}, 200, "HIT"},
		{"hit with star", http.Header{"If-None-Match": {"*"}}, 304, "HIT"},
		{"hit not modified since", http.Header{"If-Modified-Since": {lastMod.Add(time.Hour).Format(http.TimeFormat)}}, 304, "HIT"},
		{"hit modified since", http.Header{"If-Modified-Since": {lastMod.Add(-time.Hour).Format(http.TimeFormat)}}, 200, "HIT"},
		{"hit with range gets everything", http.Header{"Range": {"bytes=0-3"}}, 200, "HIT"},
	}
	for _, tc := range tests {
		got := cachetest.Do(srv, "GET", "/doc", tc.header)
		if got.Status != tc.status || got.Header.Get("X-Cache") != tc.xcache {
			t.Errorf("%s: got %d X-Cache %q, want %d %q", tc.name, got.Status, got.Header.Get("X-Cache"), tc.status, tc.xcache)
		}
		if tc.status == 304 && (got.Body != "" || got.Header.Get("Content-Type") != "") {
			t.Errorf("%s: 304 carries body %q or Content-Type %q", tc.name, got.Body, got.Header.Get("Content-Type"))
		}
		if tc.status == 200 && got.Body != "full body" {
			t.Errorf("%s: body %q, want the full body", tc.name, got.Body)
		}
	}
}

func TestHead(t *testing.T) {
	c, _, _ := newCache(t, httpcache.Options{})
	h := &counter{fn: func(_ int32, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = fmt.Fprint(w, "twelve bytes")
	}}
	srv := c.Handler(h)
	for i, want := range []string{"MISS", "HIT"} {
		got := cachetest.Do(srv, "HEAD", "/h", nil)
		if got.Header.Get("X-Cache") != want || got.Body != "" || got.Header.Get("Content-Length") != "12" {
			t.Errorf("HEAD %d: X-Cache %q body %q Content-Length %q, want %s, no body, 12",
				i, got.Header.Get("X-Cache"), got.Body, got.Header.Get("Content-Length"), want)
		}
	}
	// GET has its own entry.
	if got := cachetest.Do(srv, "GET", "/h", nil); got.Header.Get("X-Cache") != "MISS" || got.Body != "twelve bytes" {
		t.Errorf("GET after HEAD: X-Cache %q body %q, want MISS and the body", got.Header.Get("X-Cache"), got.Body)
	}
}

func TestPanicReachesTheRequest(t *testing.T) {
	c, _, _ := newCache(t, httpcache.Options{})
	srv := c.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	for i := range 2 { // nothing is stored: the second request panics too
		func() {
			defer func() {
				if p := recover(); p != http.ErrAbortHandler {
					t.Errorf("request %d: recovered %v, want http.ErrAbortHandler", i, p)
				}
			}()
			cachetest.Do(srv, "GET", "/p", nil)
		}()
	}
}

func TestTagsInvalidate(t *testing.T) {
	c, s, _ := newCache(t, httpcache.Options{Tags: func(r *http.Request) []string {
		return []string{"items", "item:" + r.PathValue("id")}
	}})
	h := &counter{fn: func(n int32, w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "%s v%d", r.PathValue("id"), n)
	}}
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", c.Handler(h))
	cachetest.Do(mux, "GET", "/items/1", nil)
	cachetest.Do(mux, "GET", "/items/2", nil)
	if _, err := s.InvalidateTag(t.Context(), "item:1"); err != nil {
		t.Fatalf("InvalidateTag: %v", err)
	}
	tests := []struct{ target, xcache, body string }{
		{"/items/1", "MISS", "1 v3"},
		{"/items/2", "HIT", "2 v2"},
	}
	for _, tc := range tests {
		if got := cachetest.Do(mux, "GET", tc.target, nil); got.Header.Get("X-Cache") != tc.xcache || got.Body != tc.body {
			t.Errorf("%s after invalidation: got %q X-Cache %q, want %q %q", tc.target, got.Body, got.Header.Get("X-Cache"), tc.body, tc.xcache)
		}
	}
}

// fakeBreaker refuses every fetch.
type fakeBreaker struct{ err error }

func (b fakeBreaker) Allow(string) (func(bool), error) { return nil, b.err }

func TestBreakerRefusalIs503(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{Breaker: fakeBreaker{err: &breaker.OpenError{Key: "k", State: breaker.Open, RetryAfter: 1500 * time.Millisecond}}})
	c, err := httpcache.New(s, httpcache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &counter{fn: func(int32, http.ResponseWriter, *http.Request) {}}
	got := cachetest.Do(c.Handler(h), "GET", "/", nil)
	if got.Status != http.StatusServiceUnavailable || got.Header.Get("Retry-After") != "2" {
		t.Errorf("got %d Retry-After %q, want 503 and 2", got.Status, got.Header.Get("Retry-After"))
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("handler ran %d times behind an open breaker, want 0", n)
	}
}

func TestClosedStackServesUncached(t *testing.T) {
	c, s, _ := newCache(t, httpcache.Options{})
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := &counter{fn: func(int32, http.ResponseWriter, *http.Request) {}}
	for i := range 2 {
		if got := cachetest.Do(c.Handler(h), "GET", "/", nil); got.Status != 200 || got.Header.Get("X-Cache") != "MISS" {
			t.Errorf("request %d: got %d X-Cache %q, want 200 MISS", i, got.Status, got.Header.Get("X-Cache"))
		}
	}
	if n := h.calls.Load(); n != 2 {
		t.Errorf("handler ran %d times, want 2", n)
	}
}

func TestOptionsValidation(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	tests := []struct {
		name  string
		stack *cache.Stack
		opts  httpcache.Options
		want  string // substring of the error; "" for valid options
	}{
		{"zero", s, httpcache.Options{}, ""},
		{"all set", s, httpcache.Options{TTL: time.Second, MaxBodyBytes: 10, Methods: []string{"GET"}, Headers: []string{"etag"},
			CallOptions: []cache.Option{cache.StaleWhileRevalidate(time.Second)}}, ""},
		{"nil stack", nil, httpcache.Options{}, "cache.Stack"},
		{"negative TTL", s, httpcache.Options{TTL: -time.Second}, "Options.TTL"},
		{"negative MaxBodyBytes", s, httpcache.Options{MaxBodyBytes: -1}, "Options.MaxBodyBytes"},
		{"empty Methods", s, httpcache.Options{Methods: []string{}}, "Options.Methods"},
		{"POST", s, httpcache.Options{Methods: []string{"POST"}}, `"POST"`},
		{"lower-case get", s, httpcache.Options{Methods: []string{"get"}}, `"get"`},
		{"Set-Cookie header", s, httpcache.Options{Headers: []string{"set-cookie"}}, "Set-Cookie"},
		{"empty header", s, httpcache.Options{Headers: []string{""}}, "empty"},
		{"bad call option", s, httpcache.Options{CallOptions: []cache.Option{cache.StaleIfError(-1)}}, "Options.CallOptions"},
		{"unknown policy", s, httpcache.Options{CallOptions: []cache.Option{cache.WithTTLPolicy("nope")}}, "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := httpcache.New(tc.stack, tc.opts)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New: %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestMiddlewarePanicsOnBadOptions(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	defer func() {
		p := recover()
		if err, ok := p.(error); !ok || !strings.Contains(err.Error(), "Options.TTL") {
			t.Errorf("recovered %v, want the validation error", p)
		}
	}()
	httpcache.Middleware(s, httpcache.Options{TTL: -1})
}

func TestRunnerErrors(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantFetch uint64 // fetch errors the Stack counts
	}{
		{"client error", statusErr{code: 404}, 0},
		{"server error", statusErr{code: 503}, 1},
		{"plain error", errors.New("broken"), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, s, _ := newCache(t, httpcache.Options{})
			run := func(http.ResponseWriter, *http.Request) error { return tc.err }
			for i := range 2 {
				req, _ := http.NewRequest("GET", "http://example.com/", nil)
				if err := c.Serve(nil, req, run, run); !errors.Is(err, tc.err) {
					t.Errorf("request %d: Serve returned %v, want %v", i, err, tc.err)
				}
			}
			if got := s.Stats().FetchErrors; got != 2*tc.wantFetch {
				t.Errorf("Stack counted %d fetch errors, want %d", got, 2*tc.wantFetch)
			}
		})
	}
}

type statusErr struct{ code int }

func (e statusErr) Error() string   { return fmt.Sprintf("status %d", e.code) }
func (e statusErr) StatusCode() int { return e.code }
