package statshttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/statshttp"
)

func Example() {
	ctx := context.Background()
	mem, err := memory.New(memory.Options{Name: "l1"})
	if err != nil {
		panic(err)
	}
	stack, err := cache.New(ctx, []cache.Layer{mem}, cache.Options{})
	if err != nil {
		panic(err)
	}
	defer func() { _ = stack.Close(ctx) }()
	_ = cache.Typed[int](stack).Set(ctx, "answer", 42)

	mux := http.NewServeMux()
	mux.Handle("/debug/cache", statshttp.New(stack, statshttp.Options{
		Authorize: func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer s3cret" },
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/debug/cache") // no token
	if err != nil {
		panic(err)
	}
	_ = resp.Body.Close()
	fmt.Println("without token:", resp.StatusCode)

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/debug/cache", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var report statshttp.Report
	if err := json.NewDecoder(resp.Body).Decode(&report); err != nil {
		panic(err)
	}
	fmt.Println("with token:", resp.StatusCode, "sets:", report.Counters.Sets, "layer:", report.Layers[0].Name)
	// Output:
	// without token: 403
	// with token: 200 sets: 1 layer: l1
}
