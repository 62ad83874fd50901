package layerstats_test

import (
	"context"
	"fmt"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layerstats"
	"github.com/layercache/layercache/pkg/cache/memory"
)

func Example() {
	ctx := context.Background()
	mem, err := memory.New(memory.Options{Name: "l1"})
	if err != nil {
		panic(err)
	}
	timed := layerstats.Wrap(mem)
	stack, err := cache.New(ctx, []cache.Layer{timed}, cache.Options{})
	if err != nil {
		panic(err)
	}
	defer func() { _ = stack.Close(ctx) }()

	users := cache.Typed[string](stack)
	_ = users.Set(ctx, "user:1", "Ada")
	name, _ := users.Get(ctx, "user:1", nil)
	fmt.Println(name)

	set := timed.Summary(layerstats.OpSet)
	fmt.Println("sets:", set.Count, "errors:", set.Errors)

	for _, h := range layerstats.Check(ctx, []cache.Layer{timed}, layerstats.DefaultCheckTimeout) {
		fmt.Println(h.Layer, "healthy:", h.OK, "answered within a second:", h.Latency < time.Second)
	}
	// Output:
	// Ada
	// sets: 1 errors: 0
	// l1 healthy: true answered within a second: true
}
