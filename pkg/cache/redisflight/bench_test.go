package redisflight_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
)

// BenchmarkDoMany measures an uncontended DoMany of ten keys: claiming each
// key's lease, one fetch, finishing each lease (publishing its Result).
func BenchmarkDoMany(b *testing.B) {
	srv := redistest.Shared(b)
	c := newCoordinator(b, srv.NewClient(b), redistest.Prefix(b))
	keys := make([]string, 10)
	fetch := func(_ context.Context, keys []string) map[string]cache.Result {
		out := make(map[string]cache.Result, len(keys))
		for _, k := range keys {
			out[k] = cache.Result{Payload: []byte("v")}
		}
		return out
	}
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range keys {
			keys[i] = "k" + strconv.Itoa(n) + ":" + strconv.Itoa(i) // a new flight every time
		}
		n++
		if _, errs := c.DoMany(ctx, keys, fetch); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}
