package promcache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layerstats"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/promcache"
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

// traffic makes one miss-and-fetch, one hit in l1, one delete and one
// failed fetch on s.
func traffic(t *testing.T, s *cache.Stack) {
	t.Helper()
	ctx := context.Background()
	v := cache.Typed[string](s)
	fetch := func(context.Context) (string, error) { return "v", nil }
	if _, err := v.Get(ctx, "a", fetch); err != nil {
		t.Fatalf("Get a: %v", err)
	}
	if _, err := v.Get(ctx, "a", fetch); err != nil {
		t.Fatalf("Get a again: %v", err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	boom := errors.New("boom")
	if _, err := v.Get(ctx, "b", func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("Get b error = %v; want boom", err)
	}
}

func TestCollectStackCounters(t *testing.T) {
	s := newStack(t, cache.Options{}, newMemory(t, "l1"), newMemory(t, "l2"))
	c := promcache.New(promcache.Options{})
	if err := c.Add("users", s); err != nil {
		t.Fatalf("Add: %v", err)
	}
	traffic(t, s)

	// Per-layer misses are left out: how often a cold miss reads each layer
	// is the Stack's business (see TestLayerMissesFollowStats).
	const want = `
# HELP layercache_hits_total Get calls answered from a layer (fresh or stale).
# TYPE layercache_hits_total counter
layercache_hits_total{cache="users"} 1
# HELP layercache_misses_total Get calls no layer could answer.
# TYPE layercache_misses_total counter
layercache_misses_total{cache="users"} 2
# HELP layercache_fetches_total Fetcher calls, after deduplication.
# TYPE layercache_fetches_total counter
layercache_fetches_total{cache="users"} 2
# HELP layercache_fetch_errors_total Fetcher calls that failed (not found excluded).
# TYPE layercache_fetch_errors_total counter
layercache_fetch_errors_total{cache="users"} 1
# HELP layercache_sets_total Entries written (Set, SetMany items, fetched values).
# TYPE layercache_sets_total counter
layercache_sets_total{cache="users"} 1
# HELP layercache_deletes_total Keys deleted.
# TYPE layercache_deletes_total counter
layercache_deletes_total{cache="users"} 1
# HELP layercache_hit_ratio Hits / (hits + misses) since the Stack was created; 0 before the first Get.
# TYPE layercache_hit_ratio gauge
layercache_hit_ratio{cache="users"} 0.3333333333333333
# HELP layercache_layer_hits_total Reads a layer answered with a usable entry.
# TYPE layercache_layer_hits_total counter
layercache_layer_hits_total{cache="users",layer="l1"} 1
layercache_layer_hits_total{cache="users",layer="l2"} 0
# HELP layercache_layer_degraded 1 while the Stack skips the layer after a failure, else 0.
# TYPE layercache_layer_degraded gauge
layercache_layer_degraded{cache="users",layer="l1"} 0
layercache_layer_degraded{cache="users",layer="l2"} 0
`
	names := []string{
		"layercache_hits_total", "layercache_misses_total", "layercache_fetches_total",
		"layercache_fetch_errors_total", "layercache_sets_total", "layercache_deletes_total",
		"layercache_hit_ratio", "layercache_layer_hits_total", "layercache_layer_degraded",
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestLayerMissesFollowStats(t *testing.T) {
	s := newStack(t, cache.Options{}, newMemory(t, "l1"), newMemory(t, "l2"))
	c := promcache.New(promcache.Options{})
	if err := c.Add("users", s); err != nil {
		t.Fatalf("Add: %v", err)
	}
	traffic(t, s)
	st := s.Stats()
	want := fmt.Sprintf(`
# HELP layercache_layer_misses_total Reads a layer could not answer.
# TYPE layercache_layer_misses_total counter
layercache_layer_misses_total{cache="users",layer="l1"} %d
layercache_layer_misses_total{cache="users",layer="l2"} %d
`, st.Layers[0].Misses, st.Layers[1].Misses)
	if st.Layers[0].Misses == 0 {
		t.Errorf("l1 misses = 0 after two cold misses")
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "layercache_layer_misses_total"); err != nil {
		t.Error(err)
	}
}

// TestLintAndConsistency registers the Collector with a pedantic registry,
// which checks that Collect sends only described metrics with consistent
// labels, and lints the whole exposition.
func TestLintAndConsistency(t *testing.T) {
	timed := layerstats.Wrap(newMemory(t, "l1"))
	s := newStack(t, cache.Options{}, timed, newMemory(t, "l2"))
	traffic(t, s)
	c := promcache.New(promcache.Options{ConstLabels: prometheus.Labels{"service": "api"}})
	if err := c.Add("users", s, timed); err != nil {
		t.Fatalf("Add: %v", err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatalf("Register: %v", err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	// 27 Stack counters, 3 layer counters, hit ratio, degraded, 4 latency families.
	if len(mfs) != 36 {
		t.Errorf("gathered %d families; want 36", len(mfs))
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if !hasLabel(m, "service", "api") {
				t.Errorf("%s lacks the const label service=api", mf.GetName())
			}
		}
	}
}

func TestLayerLatency(t *testing.T) {
	timed := layerstats.Wrap(newMemory(t, "l1"))
	s := newStack(t, cache.Options{}, timed, newMemory(t, "l2"))
	c := promcache.New(promcache.Options{Namespace: "app_cache"})
	if err := c.Add("users", s, timed); err != nil {
		t.Fatalf("Add: %v", err)
	}
	traffic(t, s)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	dur := byName["app_cache_layer_operation_duration_seconds"]
	if dur == nil || dur.GetType() != dto.MetricType_SUMMARY {
		t.Fatalf("no summary family app_cache_layer_operation_duration_seconds in %d families", len(mfs))
	}
	if n := len(dur.GetMetric()); n != len(layerstats.Ops()) {
		t.Errorf("duration summary has %d series; want one per op (%d), for l1 only", n, len(layerstats.Ops()))
	}
	for _, m := range dur.GetMetric() {
		if !hasLabel(m, "layer", "l1") || !hasLabel(m, "cache", "users") {
			t.Errorf("duration series with labels %v; want cache=users, layer=l1", m.GetLabel())
		}
		if hasLabel(m, "op", "get") {
			want := timed.Summary(layerstats.OpGet)
			if got := m.GetSummary().GetSampleCount(); got < 4 || got > want.Count {
				t.Errorf("get count = %d; want the layerstats count (%d at most, 4 at least)", got, want.Count)
			}
			if m.GetSummary().GetSampleSum() <= 0 {
				t.Errorf("get sum = %g; want > 0", m.GetSummary().GetSampleSum())
			}
		}
	}
	for _, name := range []string{
		"app_cache_layer_operation_duration_max_seconds", "app_cache_layer_operation_duration_stddev_seconds",
		"app_cache_layer_operation_errors_total", "app_cache_hits_total",
	} {
		if byName[name] == nil {
			t.Errorf("family %s missing", name)
		}
	}
}

func TestDegradedLayer(t *testing.T) {
	broken := &failing{Layer: newMemory(t, "redis")}
	s := newStack(t, cache.Options{DegradeFor: 1 << 62}, newMemory(t, "l1"), broken)
	c := promcache.New(promcache.Options{})
	if err := c.Add("users", s); err != nil {
		t.Fatalf("Add: %v", err)
	}
	_, _ = cache.Typed[string](s).Get(context.Background(), "k", nil) // fails in "redis", which degrades
	const want = `
# HELP layercache_layer_degraded 1 while the Stack skips the layer after a failure, else 0.
# TYPE layercache_layer_degraded gauge
layercache_layer_degraded{cache="users",layer="l1"} 0
layercache_layer_degraded{cache="users",layer="redis"} 1
# HELP layercache_degradations_total Times a failing layer started being skipped.
# TYPE layercache_degradations_total counter
layercache_degradations_total{cache="users"} 1
# HELP layercache_layer_errors_total Failed operations of a layer.
# TYPE layercache_layer_errors_total counter
layercache_layer_errors_total{cache="users",layer="l1"} 0
layercache_layer_errors_total{cache="users",layer="redis"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"layercache_layer_degraded", "layercache_degradations_total", "layercache_layer_errors_total"); err != nil {
		t.Error(err)
	}
}

// failing is a layer whose reads fail.
type failing struct{ cache.Layer }

func (f *failing) Get(context.Context, string) (cache.Entry, bool, error) {
	return cache.Entry{}, false, errors.New("connection refused")
}

// TestFamiliesContiguousAcrossStacks reads Collect's raw output with two
// Stacks and checks that no family is interrupted by another (known
// weakness 20 of the reference exporter).
func TestFamiliesContiguousAcrossStacks(t *testing.T) {
	a := layerstats.Wrap(newMemory(t, "l1"))
	b := layerstats.Wrap(newMemory(t, "l1"))
	c := promcache.New(promcache.Options{})
	if err := c.Add("a", newStack(t, cache.Options{}, a), a); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("b", newStack(t, cache.Options{}, b, newMemory(t, "l2")), b); err != nil {
		t.Fatal(err)
	}
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	var order []*prometheus.Desc
	done := map[*prometheus.Desc]bool{}
	for m := range ch {
		d := m.Desc()
		if n := len(order); n > 0 && order[n-1] == d {
			continue
		}
		if done[d] {
			t.Errorf("family %s appears again after another family", d)
		}
		done[d] = true
		order = append(order, d)
	}
	if len(order) != 36 {
		t.Errorf("Collect sent %d families; want 36", len(order))
	}
	if n := testutil.CollectAndCount(c, "layercache_hits_total"); n != 2 {
		t.Errorf("hits_total has %d series; want 2 (one per stack)", n)
	}
}

func TestAddValidates(t *testing.T) {
	l1 := layerstats.Wrap(newMemory(t, "l1"))
	other := layerstats.Wrap(newMemory(t, "other"))
	s := newStack(t, cache.Options{}, l1)
	c := promcache.New(promcache.Options{})
	cases := []struct {
		name   string
		s      *cache.Stack
		layers []*layerstats.Layer
		want   string
	}{
		{"", s, nil, "non-empty name"},
		{"x", nil, nil, "stack is nil"},
		{"x", s, []*layerstats.Layer{nil}, "layer 0 is nil"},
		{"x", s, []*layerstats.Layer{other}, `layer "other" is not in the stack`},
		{"x", s, []*layerstats.Layer{l1, l1}, `layer "l1" given twice`},
	}
	for _, tc := range cases {
		if err := c.Add(tc.name, tc.s, tc.layers...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%q, ..., %d layers) = %v; want an error containing %q", tc.name, len(tc.layers), err, tc.want)
		}
	}
	if err := c.Add("x", s, l1); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := c.Add("x", s); err == nil || !strings.Contains(err.Error(), "already added") {
		t.Errorf("second Add(x) = %v; want already added", err)
	}
	if !c.Remove("x") || c.Remove("x") {
		t.Errorf("Remove(x) twice: want true then false")
	}
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("after Remove, Collect sent %d metrics; want 0", n)
	}
}

func TestInvalidOptionsFailRegistration(t *testing.T) {
	for _, tc := range []struct {
		opts promcache.Options
		want string
	}{
		{promcache.Options{Namespace: "bad-name"}, "Options.Namespace"},
		{promcache.Options{Namespace: "9lives"}, "Options.Namespace"},
		{promcache.Options{ConstLabels: prometheus.Labels{"cache": "x"}}, "cache"},
	} {
		c := promcache.New(tc.opts)
		if err := prometheus.NewRegistry().Register(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Register with %+v = %v; want an error mentioning %q", tc.opts, err, tc.want)
		}
	}
	if err := prometheus.NewRegistry().Register(promcache.New(promcache.Options{Namespace: "_ok_9"})); err != nil {
		t.Errorf("Register with Namespace _ok_9: %v", err)
	}
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
