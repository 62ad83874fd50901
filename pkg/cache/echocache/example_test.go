package echocache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/echocache"
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

	e := echo.New()
	e.GET("/items/:id", func(c echo.Context) error {
		return c.String(http.StatusOK, "item "+c.Param("id"))
	}, echocache.Middleware(stack, echocache.Options{TTL: time.Minute}))

	for range 2 {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest("GET", "/items/42", nil))
		fmt.Println(w.Header().Get("X-Cache"), w.Body.String())
	}
	// Output:
	// MISS item 42
	// HIT item 42
}
