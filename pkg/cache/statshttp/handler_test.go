package statshttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layerstats"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/statshttp"
)

func newMemory(t testing.TB, name string) *memory.Layer {
	t.Helper()
	l, err := memory.New(memory.Options{Name: name})
	if err != nil {
		t.Fatalf("memory.New: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func newStack(t testing.TB, opts cache.Options, layers ...cache.Layer) *cache.Stack {
	t.Helper()
	s, err := cache.New(context.Background(), layers, opts)
	if err != nil {
		t.Fatalf("cache.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func serve(h http.Handler, method string, mutate ...func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/debug/cache", nil)
	for _, m := range mutate {
		m(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func checkHeaders(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	want := map[string]string{
		"Content-Type":           "application/json; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s: header %s = %q; want %q", what, k, got, v)
		}
	}
}

func TestDeniedByDefault(t *testing.T) {
	s := newStack(t, cache.Options{}, newMemory(t, "l1"))
	for _, tc := range []struct {
		name string
		opts statshttp.Options
	}{
		{"zero options", statshttp.Options{}},
		{"authorize says no", statshttp.Options{Authorize: func(*http.Request) bool { return false }}},
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			rec := serve(statshttp.New(s, tc.opts), method)
			if rec.Code != http.StatusForbidden {
				t.Errorf("%s, %s: status %d; want 403", tc.name, method, rec.Code)
			}
			if body := strings.TrimSpace(rec.Body.String()); body != `{"error":"forbidden"}` {
				t.Errorf("%s, %s: body %q; want {\"error\":\"forbidden\"}", tc.name, method, body)
			}
			checkHeaders(t, tc.name, rec)
		}
	}
}

func TestAuthorize(t *testing.T) {
	s := newStack(t, cache.Options{}, newMemory(t, "l1"))
	h := statshttp.New(s, statshttp.Options{Authorize: func(r *http.Request) bool {
		return r.Header.Get("Authorization") == "Bearer secret"
	}})
	if rec := serve(h, http.MethodGet); rec.Code != http.StatusForbidden {
		t.Errorf("no token: status %d; want 403", rec.Code)
	}
	rec := serve(h, http.MethodGet, func(r *http.Request) { r.Header.Set("Authorization", "Bearer secret") })
	if rec.Code != http.StatusOK {
		t.Errorf("with token: status %d; want 200 (body %s)", rec.Code, rec.Body)
	}
	checkHeaders(t, "with token", rec)
}

func TestReport(t *testing.T) {
	timed := layerstats.Wrap(newMemory(t, "l1"))
	broken := &failing{Layer: newMemory(t, "redis")}
	s := newStack(t, cache.Options{DegradeFor: 1 << 62}, timed, broken)
	ctx := context.Background()
	v := cache.Typed[string](s)
	_, _ = v.Get(ctx, "k", nil) // l1 misses, redis fails and degrades
	if err := v.Set(ctx, "k", "v"); err != nil {
		t.Fatalf("Set: %v", err) // the degraded layer is skipped
	}
	if _, err := v.Get(ctx, "k", nil); err != nil {
		t.Fatalf("Get: %v", err)
	}

	h := statshttp.New(s, statshttp.Options{AllowPublic: true, Layers: []*layerstats.Layer{timed}})
	rec := serve(h, http.MethodGet)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d; want 200 (body %s)", rec.Code, rec.Body)
	}
	checkHeaders(t, "GET", rec)
	var r statshttp.Report
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	st := s.Stats()
	if r.Counters.Hits != 1 || r.Counters.Misses != 1 || r.Counters.Sets != 1 || r.Counters.Degradations != 1 ||
		r.Counters.Hits != st.Hits || r.Counters.LayerErrors != st.LayerErrors {
		t.Errorf("counters = %+v; want hits 1, misses 1, sets 1, degradations 1 (stats %+v)", r.Counters, st)
	}
	if r.HitRatio != 0.5 {
		t.Errorf("hitRatio = %v; want 0.5", r.HitRatio)
	}
	want := []statshttp.LayerReport{
		{Name: "l1", Hits: 1, Misses: 1},
		{Name: "redis", Errors: 1, Degraded: true},
	}
	if len(r.Layers) != len(want) {
		t.Fatalf("layers = %+v; want %+v", r.Layers, want)
	}
	for i := range want {
		if r.Layers[i] != want[i] {
			t.Errorf("layers[%d] = %+v; want %+v", i, r.Layers[i], want[i])
		}
	}
	get := r.Latency["l1"]["get"]
	if get.Count != timed.Summary(layerstats.OpGet).Count || get.Count < 2 || get.MaxSeconds <= 0 {
		t.Errorf("latency[l1][get] = %+v; want the layerstats count (>= 2) and a positive max", get)
	}
	if len(r.Latency["l1"]) != len(layerstats.Ops()) {
		t.Errorf("latency[l1] has %d ops; want %d", len(r.Latency["l1"]), len(layerstats.Ops()))
	}
}

func TestNoLatencyWithoutLayers(t *testing.T) {
	s := newStack(t, cache.Options{}, newMemory(t, "l1"))
	rec := serve(statshttp.New(s, statshttp.Options{AllowPublic: true}), http.MethodGet)
	if strings.Contains(rec.Body.String(), `"latency"`) {
		t.Errorf("body has a latency section without Options.Layers: %s", rec.Body)
	}
}

func TestMethods(t *testing.T) {
	s := newStack(t, cache.Options{}, newMemory(t, "l1"))
	h := statshttp.New(s, statshttp.Options{AllowPublic: true})

	head := serve(h, http.MethodHead)
	if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: status %d, %d body bytes, Content-Length %q; want 200, empty body, a length",
			head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
	}
	checkHeaders(t, "HEAD", head)

	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		rec := serve(h, method)
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d, Allow %q; want 405 and GET, HEAD", method, rec.Code, rec.Header().Get("Allow"))
		}
		if body := strings.TrimSpace(rec.Body.String()); body != `{"error":"method not allowed"}` {
			t.Errorf("%s: body %q", method, body)
		}
		checkHeaders(t, method, rec)
	}
}

// TestOverHTTP serves the handler from a real server.
func TestOverHTTP(t *testing.T) {
	s := newStack(t, cache.Options{}, newMemory(t, "l1"))
	srv := httptest.NewServer(statshttp.New(s, statshttp.Options{AllowPublic: true}))
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var r statshttp.Report
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if resp.StatusCode != http.StatusOK || len(r.Layers) != 1 || r.Layers[0].Name != "l1" {
		t.Errorf("status %d, layers %+v; want 200 and layer l1", resp.StatusCode, r.Layers)
	}
}

// failing is a layer whose reads fail.
type failing struct{ cache.Layer }

func (f *failing) Get(context.Context, string) (cache.Entry, bool, error) {
	return cache.Entry{}, false, errors.New("connection refused")
}
