package gqlcache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/gqlcache"
	"github.com/layercache/layercache/pkg/cache/memory"
)

type Product struct {
	ID    string
	Price int
}

func ExampleResolver() {
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

	loads := 0
	load := func(_ context.Context, id string) (Product, error) {
		loads++
		return Product{ID: id, Price: 42}, nil
	}
	// The shape of a gqlgen resolver method: (ctx, args) -> (result, error).
	product, err := gqlcache.Resolver(cache.Typed[Product](stack), "product",
		func(_ context.Context, id string) (string, error) { return id, nil }, // public data: the id is the key
		load, cache.TTL(time.Minute), cache.Tags("products"))
	if err != nil {
		panic(err)
	}
	for range 3 {
		p, _ := product(ctx, "p1")
		fmt.Println(p.ID, p.Price, "loads:", loads)
	}
	// Output:
	// p1 42 loads: 1
	// p1 42 loads: 1
	// p1 42 loads: 1
}
