package echocache_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/echocache"
)

func TestEcho(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	var calls atomic.Int32
	e := echo.New()
	var mu sync.Mutex
	var statuses []int
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc { // outside the cache
		return func(c echo.Context) error {
			err := next(c)
			status := c.Response().Status
			if err != nil {
				status = -1 // echo's error handler answers after the chain
			}
			mu.Lock()
			statuses = append(statuses, status)
			mu.Unlock()
			return err
		}
	})
	mw := echocache.Middleware(s, echocache.Options{TTL: time.Minute})
	e.GET("/items/:id", func(c echo.Context) error {
		n := calls.Add(1)
		switch c.Param("id") {
		case "missing":
			return echo.NewHTTPError(http.StatusNotFound, "no such item")
		case "broken":
			return fmt.Errorf("database down")
		}
		return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "call": n})
	}, mw)

	tests := []struct {
		name, target string
		header       http.Header
		status       int
		body, xcache string
	}{
		{"fill", "/items/1", nil, 200, `{"call":1,"id":"1"}` + "\n", "MISS"},
		{"hit", "/items/1", nil, 200, `{"call":1,"id":"1"}` + "\n", "HIT"},
		{"credentials bypass", "/items/1", http.Header{"Cookie": {"sid=1"}}, 200, `{"call":2,"id":"1"}` + "\n", ""},
		{"http error reaches echo", "/items/missing", nil, 404, `{"message":"no such item"}` + "\n", ""},
		{"http error again", "/items/missing", nil, 404, `{"message":"no such item"}` + "\n", ""},
		{"plain error is a 500", "/items/broken", nil, 500, `{"message":"Internal Server Error"}` + "\n", ""},
	}
	for _, tc := range tests {
		got := cachetest.Do(e, "GET", tc.target, tc.header)
		if got.Status != tc.status || got.Body != tc.body || got.Header.Get("X-Cache") != tc.xcache {
			t.Errorf("%s: got %d %q X-Cache %q, want %d %q %q", tc.name, got.Status, got.Body, got.Header.Get("X-Cache"), tc.status, tc.body, tc.xcache)
		}
	}
	if n := calls.Load(); n != 5 {
		t.Errorf("handler ran %d times, want 5", n)
	}
	if st := s.Stats(); st.FetchErrors != 1 {
		t.Errorf("Stack counted %d fetch errors, want 1 (the 500; a 404 is an answer)", st.FetchErrors)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []int{200, 200, 200, -1, -1, -1}; fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("outer middleware saw %v, want %v", statuses, want)
	}
}

func TestEchoKey(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	var calls atomic.Int32
	e := echo.New()
	e.GET("/orgs/:org/report", func(c echo.Context) error {
		return c.String(http.StatusOK, fmt.Sprintf("%s report %d", c.Param("org"), calls.Add(1)))
	}, echocache.Middleware(s, echocache.Options{
		Key: func(c echo.Context) (string, bool) { return "report:" + c.Param("org"), true },
	}))
	tests := []struct {
		target       string
		header       http.Header
		body, xcache string
	}{
		{"/orgs/a/report", http.Header{"Authorization": {"x"}}, "a report 1", "MISS"},
		{"/orgs/a/report?utm=1", nil, "a report 1", "HIT"}, // the key ignores the query
		{"/orgs/b/report", nil, "b report 2", "MISS"},
	}
	for _, tc := range tests {
		if got := cachetest.Do(e, "GET", tc.target, tc.header); got.Body != tc.body || got.Header.Get("X-Cache") != tc.xcache {
			t.Errorf("%s: got %q X-Cache %q, want %q %q", tc.target, got.Body, got.Header.Get("X-Cache"), tc.body, tc.xcache)
		}
	}
}

func TestEchoStampede(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := cachetest.NewStack(t, cache.Options{})
		var calls atomic.Int32
		release := make(chan struct{})
		e := echo.New()
		e.GET("/slow", func(c echo.Context) error {
			calls.Add(1)
			<-release
			return c.String(http.StatusOK, "done")
		}, echocache.Middleware(s, echocache.Options{}))
		results := make([]cachetest.Response, 6)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() { results[i] = cachetest.Do(e, "GET", "/slow", nil) })
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("handler ran %d times for 6 concurrent requests, want 1", n)
		}
		xcache := map[string]int{}
		for i, res := range results {
			if res.Body != "done" {
				t.Errorf("request %d: body %q", i, res.Body)
			}
			xcache[res.Header.Get("X-Cache")]++
		}
		if xcache["MISS"] != 1 || xcache["HIT"] != 5 {
			t.Errorf("X-Cache counts %v, want 1 MISS, 5 HIT", xcache)
		}
	})
}

func TestEchoBackgroundRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, clock := cachetest.NewStack(t, cache.Options{})
		var calls atomic.Int32
		release := make(chan struct{})
		e := echo.New()
		e.GET("/t/:id", func(c echo.Context) error {
			n := calls.Add(1)
			if n == 2 {
				<-release
			}
			return c.String(http.StatusOK, fmt.Sprintf("%s %s v%d", c.Path(), c.Param("id"), n))
		}, echocache.Middleware(s, echocache.Options{TTL: time.Minute,
			CallOptions: []cache.Option{cache.StaleWhileRevalidate(time.Minute)}}))
		steps := []struct {
			name, body, xcache string
			before             func()
		}{
			{"fill", "/t/:id 9 v1", "MISS", nil},
			{"stale", "/t/:id 9 v1", "STALE", func() { clock.Advance(90 * time.Second) }},
			{"refreshed", "/t/:id 9 v2", "HIT", func() { close(release); synctest.Wait() }},
		}
		for _, st := range steps {
			if st.before != nil {
				st.before()
			}
			got := cachetest.Do(e, "GET", "/t/9", nil)
			if got.Body != st.body || got.Header.Get("X-Cache") != st.xcache {
				t.Errorf("%s: got %q X-Cache %q, want %q %q", st.name, got.Body, got.Header.Get("X-Cache"), st.body, st.xcache)
			}
		}
	})
}

func TestEchoOptions(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	tests := []struct {
		name string
		opts echocache.Options
		want string
	}{
		{"zero", echocache.Options{}, ""},
		{"negative MaxBodyBytes", echocache.Options{MaxBodyBytes: -1}, "Options.MaxBodyBytes"},
		{"PUT", echocache.Options{Methods: []string{"PUT"}}, "PUT"},
	}
	for _, tc := range tests {
		_, err := echocache.New(s, tc.opts)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: New returned %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}
