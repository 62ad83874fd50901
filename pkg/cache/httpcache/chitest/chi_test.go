package chitest_test

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/goleak"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/httpcache"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// get sends a GET for target through h and returns what X-Cache said and
// the body.
func get(h http.Handler, target string) (xcache, body string) {
	res := cachetest.Do(h, http.MethodGet, target, nil)
	return res.Header.Get("X-Cache"), res.Body
}

// TestChiRouter uses the middleware through chi's Use and With, and checks
// that chi's URL parameters reach the handler both when a request fills the
// cache and in a background refresh, which runs after the request ended.
func TestChiRouter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, clock := cachetest.NewStack(t, cache.Options{})
		var calls atomic.Int32
		release := make(chan struct{})
		r := chi.NewRouter()
		r.Use(httpcache.Middleware(s, httpcache.Options{TTL: time.Minute,
			CallOptions: []cache.Option{cache.StaleWhileRevalidate(time.Minute)}}))
		r.Get("/users/{id}", func(w http.ResponseWriter, r *http.Request) {
			n := calls.Add(1)
			if n == 3 {
				<-release // the background refresh of user 1
			}
			_, _ = fmt.Fprintf(w, "user %s v%d", chi.URLParam(r, "id"), n)
		})
		steps := []struct {
			name, target, xcache, body string
			before                     func()
		}{
			{"fill 1", "/users/1", "MISS", "user 1 v1", nil},
			{"fill 2", "/users/2", "MISS", "user 2 v2", nil},
			{"hit 1", "/users/1", "HIT", "user 1 v1", nil},
			{"stale 1", "/users/1", "STALE", "user 1 v1", func() { clock.Advance(90 * time.Second) }},
			{"refreshed 1", "/users/1", "HIT", "user 1 v3", func() { close(release); synctest.Wait() }},
		}
		for _, st := range steps {
			if st.before != nil {
				st.before()
			}
			xcache, body := get(r, st.target)
			if xcache != st.xcache || body != st.body {
				t.Errorf("%s: got %q X-Cache %q, want %q %q", st.name, body, xcache, st.body, st.xcache)
			}
		}
	})
}

func TestChiWith(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	var calls atomic.Int32
	r := chi.NewRouter()
	r.With(httpcache.Middleware(s, httpcache.Options{})).Get("/cached", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintf(w, "v%d", calls.Add(1))
	})
	r.Get("/plain", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintf(w, "v%d", calls.Add(1))
	})
	tests := []struct{ target, xcache, body string }{
		{"/cached", "MISS", "v1"},
		{"/cached", "HIT", "v1"},
		{"/plain", "", "v2"},
		{"/plain", "", "v3"},
	}
	for i, tc := range tests {
		if xcache, body := get(r, tc.target); xcache != tc.xcache || body != tc.body {
			t.Errorf("request %d %s: got %q X-Cache %q, want %q %q", i, tc.target, body, xcache, tc.body, tc.xcache)
		}
	}
}
