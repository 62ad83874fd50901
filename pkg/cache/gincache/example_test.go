package gincache_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/gincache"
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

	r := gin.New()
	r.GET("/items/:id",
		gincache.Middleware(stack, gincache.Options{
			TTL:  time.Minute,
			Tags: func(c *gin.Context) []string { return []string{"item:" + c.Param("id")} },
		}),
		func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"id": c.Param("id")}) })

	for range 2 {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/items/42", nil))
		fmt.Println(w.Header().Get("X-Cache"), w.Body.String())
	}
	// Output:
	// MISS {"id":"42"}
	// HIT {"id":"42"}
}
