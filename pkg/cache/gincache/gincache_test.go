package gincache_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/gincache"
)

func TestGin(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	var calls, after atomic.Int32
	r := gin.New()
	var seenStatus []int
	var mu sync.Mutex
	r.Use(func(c *gin.Context) { // outside the cache: sees every response
		c.Next()
		mu.Lock()
		seenStatus = append(seenStatus, c.Writer.Status())
		mu.Unlock()
	})
	r.GET("/items/:id",
		gincache.Middleware(s, gincache.Options{TTL: time.Minute}),
		func(c *gin.Context) { // between the cache and the handler
			after.Add(1)
			c.Next()
		},
		func(c *gin.Context) {
			n := calls.Add(1)
			c.Header("X-Internal", "dropped")
			if c.Param("id") == "missing" {
				c.JSON(http.StatusNotFound, gin.H{"error": "no such item"})
				return
			}
			c.JSON(http.StatusOK, gin.H{"id": c.Param("id"), "call": n})
		})
	r.POST("/items/:id", gincache.Middleware(s, gincache.Options{}), func(c *gin.Context) {
		c.String(http.StatusCreated, "created %d", calls.Add(1))
	})

	tests := []struct {
		name, method, target string
		header               http.Header
		status               int
		body, xcache         string
	}{
		{"fill", "GET", "/items/1", nil, 200, `{"call":1,"id":"1"}`, "MISS"},
		{"hit", "GET", "/items/1", nil, 200, `{"call":1,"id":"1"}`, "HIT"},
		{"other id", "GET", "/items/2", nil, 200, `{"call":2,"id":"2"}`, "MISS"},
		{"credentials bypass", "GET", "/items/1", http.Header{"Authorization": {"Bearer x"}}, 200, `{"call":3,"id":"1"}`, ""},
		{"token bypass", "GET", "/items/1?token=x", nil, 200, `{"call":4,"id":"1"}`, ""},
		{"404 not stored", "GET", "/items/missing", nil, 404, `{"error":"no such item"}`, "MISS"},
		{"404 again", "GET", "/items/missing", nil, 404, `{"error":"no such item"}`, "MISS"},
		{"post passes", "POST", "/items/1", nil, 201, "created 7", ""},
	}
	for _, tc := range tests {
		got := cachetest.Do(r, tc.method, tc.target, tc.header)
		if got.Status != tc.status || got.Body != tc.body || got.Header.Get("X-Cache") != tc.xcache {
			t.Errorf("%s: got %d %q X-Cache %q, want %d %q %q", tc.name, got.Status, got.Body, got.Header.Get("X-Cache"), tc.status, tc.body, tc.xcache)
		}
		if got.Status == 200 && got.Header.Get("X-Cache") != "" && got.Header.Get("X-Internal") != "" {
			t.Errorf("%s: X-Internal served; only selected headers of a cached response are", tc.name)
		}
		if tc.status == 200 && tc.method == "GET" && got.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", tc.name, got.Header.Get("Content-Type"))
		}
	}
	if got, want := after.Load(), calls.Load()-1; got != want { // the POST route has no middleware
		t.Errorf("middleware after the cache ran %d times, the handler %d (GET): they must run together", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []int{200, 200, 200, 200, 200, 404, 404, 201}
	if fmt.Sprint(seenStatus) != fmt.Sprint(want) {
		t.Errorf("outer middleware saw statuses %v, want %v", seenStatus, want)
	}
}

func TestGinKeyAndTags(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	var calls atomic.Int32
	r := gin.New()
	r.GET("/users/:id/profile", gincache.Middleware(s, gincache.Options{
		// Per-user cache: the key holds the user, so credentials are fine.
		Key: func(c *gin.Context) (string, bool) {
			user := c.GetHeader("Authorization")
			return "profile:" + c.Param("id") + ":" + user, user != ""
		},
		Tags: func(c *gin.Context) []string { return []string{"user:" + c.Param("id")} },
	}), func(c *gin.Context) {
		c.String(http.StatusOK, "%s sees %s (%d)", c.GetHeader("Authorization"), c.Param("id"), calls.Add(1))
	})
	ann := http.Header{"Authorization": {"ann"}}
	bob := http.Header{"Authorization": {"bob"}}
	steps := []struct {
		name         string
		header       http.Header
		body, xcache string
		before       func()
	}{
		{"ann fills", ann, "ann sees 7 (1)", "MISS", nil},
		{"bob fills", bob, "bob sees 7 (2)", "MISS", nil},
		{"ann hits", ann, "ann sees 7 (1)", "HIT", nil},
		{"anonymous is not cached", nil, " sees 7 (3)", "", nil},
		{"ann after invalidation", ann, "ann sees 7 (4)", "MISS", func() {
			if _, err := s.InvalidateTag(t.Context(), "user:7"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		got := cachetest.Do(r, "GET", "/users/7/profile", st.header)
		if got.Body != st.body || got.Header.Get("X-Cache") != st.xcache {
			t.Errorf("%s: got %q X-Cache %q, want %q %q", st.name, got.Body, got.Header.Get("X-Cache"), st.body, st.xcache)
		}
	}
}

func TestGinStampede(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := cachetest.NewStack(t, cache.Options{})
		var calls atomic.Int32
		release := make(chan struct{})
		r := gin.New()
		r.GET("/slow", gincache.Middleware(s, gincache.Options{}), func(c *gin.Context) {
			calls.Add(1)
			<-release
			c.String(http.StatusOK, "done")
		})
		results := make([]cachetest.Response, 6)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() { results[i] = cachetest.Do(r, "GET", "/slow", nil) })
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

func TestGinBackgroundRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, clock := cachetest.NewStack(t, cache.Options{})
		var calls atomic.Int32
		release := make(chan struct{})
		r := gin.New()
		r.Use(func(c *gin.Context) { c.Set("tenant", "acme"); c.Next() })
		r.GET("/t/:id", gincache.Middleware(s, gincache.Options{TTL: time.Minute,
			CallOptions: []cache.Option{cache.StaleWhileRevalidate(time.Minute)}}),
			func(c *gin.Context) {
				n := calls.Add(1)
				if n == 2 {
					<-release
				}
				c.String(http.StatusOK, "%s/%s v%d", c.GetString("tenant"), c.Param("id"), n)
			})
		steps := []struct {
			name, body, xcache string
			before             func()
		}{
			{"fill", "acme/9 v1", "MISS", nil},
			{"stale", "acme/9 v1", "STALE", func() { clock.Advance(90 * time.Second) }},
			{"refreshed", "acme/9 v2", "HIT", func() { close(release); synctest.Wait() }},
		}
		for _, st := range steps {
			if st.before != nil {
				st.before()
			}
			got := cachetest.Do(r, "GET", "/t/9", nil)
			if got.Body != st.body || got.Header.Get("X-Cache") != st.xcache {
				t.Errorf("%s: got %q X-Cache %q, want %q %q", st.name, got.Body, got.Header.Get("X-Cache"), st.body, st.xcache)
			}
		}
	})
}

func TestGinOptions(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	tests := []struct {
		name string
		opts gincache.Options
		want string
	}{
		{"zero", gincache.Options{}, ""},
		{"negative TTL", gincache.Options{TTL: -1}, "Options.TTL"},
		{"POST", gincache.Options{Methods: []string{"POST"}}, "POST"},
	}
	for _, tc := range tests {
		_, err := gincache.New(s, tc.opts)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: New returned %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}
