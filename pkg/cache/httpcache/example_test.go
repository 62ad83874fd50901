package httpcache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/httpcache"
	"github.com/layercache/layercache/pkg/cache/memory"
)

func ExampleMiddleware() {
	ctx := context.Background()
	l1, err := memory.New(memory.Options{})
	if err != nil {
		panic(err)
	}
	stack, err := cache.New(ctx, []cache.Layer{l1}, cache.Options{})
	if err != nil {
		panic(err)
	}
	defer func() { _ = stack.Close(ctx) }()

	items := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", httpcache.Middleware(stack, httpcache.Options{
		TTL:  time.Minute,
		Tags: func(r *http.Request) []string { return []string{"item:" + r.PathValue("id")} },
	})(items))

	get := func(header http.Header) {
		req := httptest.NewRequest("GET", "/items/42", nil)
		for k, v := range header {
			req.Header[k] = v
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		body, _ := io.ReadAll(w.Result().Body)
		fmt.Printf("%-4s %s\n", w.Header().Get("X-Cache"), body)
	}
	get(nil)
	get(nil)
	get(http.Header{"Authorization": {"Bearer t"}}) // never cached: no X-Cache
	_, _ = stack.InvalidateTag(ctx, "item:42")
	get(nil)
	// Output:
	// MISS {"id":"42"}
	// HIT  {"id":"42"}
	//      {"id":"42"}
	// MISS {"id":"42"}
}
