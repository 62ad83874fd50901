package promcache_test

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layerstats"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/promcache"
)

func Example() {
	ctx := context.Background()
	mem, err := memory.New(memory.Options{Name: "l1"})
	if err != nil {
		panic(err)
	}
	timed := layerstats.Wrap(mem) // optional: exports layer latency too
	stack, err := cache.New(ctx, []cache.Layer{timed}, cache.Options{})
	if err != nil {
		panic(err)
	}
	defer func() { _ = stack.Close(ctx) }()

	collector := promcache.New(promcache.Options{})
	if err := collector.Add("users", stack, timed); err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	reg.MustRegister(collector)

	users := cache.Typed[string](stack)
	_ = users.Set(ctx, "user:1", "Ada")
	_, _ = users.Get(ctx, "user:1", nil)

	text, err := testutil.CollectAndFormat(collector, expfmt.TypeTextPlain,
		"layercache_hits_total", "layercache_hit_ratio", "layercache_sets_total")
	if err != nil {
		panic(err)
	}
	fmt.Print(string(text))
	// Output:
	// # HELP layercache_hit_ratio Hits / (hits + misses) since the Stack was created; 0 before the first Get.
	// # TYPE layercache_hit_ratio gauge
	// layercache_hit_ratio{cache="users"} 1
	// # HELP layercache_hits_total Get calls answered from a layer (fresh or stale).
	// # TYPE layercache_hits_total counter
	// layercache_hits_total{cache="users"} 1
	// # HELP layercache_sets_total Entries written (Set, SetMany items, fetched values).
	// # TYPE layercache_sets_total counter
	// layercache_sets_total{cache="users"} 1
}
