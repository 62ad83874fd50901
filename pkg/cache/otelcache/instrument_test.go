package otelcache_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/otelcache"
)

// secretKey is a key that must not appear in spans unless RawKeys is set.
const secretKey = `user:ada@example.com`

func newMemory(t testing.TB, name string, clock memory.Clock) *memory.Layer {
	t.Helper()
	l, err := memory.New(memory.Options{Name: name, Clock: clock})
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

// newTracer returns a tracer whose spans land in the returned exporter as
// soon as they end.
func newTracer(t *testing.T) (trace.Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer("test"), exp
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func spansNamed(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// checkNoRawKey fails if key appears anywhere in the exported spans.
func checkNoRawKey(t *testing.T, exp *tracetest.InMemoryExporter, key string) {
	t.Helper()
	for _, s := range exp.GetSpans() {
		texts := []string{s.Name, s.Status.Description}
		for _, kv := range s.Attributes {
			texts = append(texts, string(kv.Key), kv.Value.String())
		}
		for _, ev := range s.Events {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, kv.Value.String())
			}
		}
		for _, txt := range texts {
			if strings.Contains(txt, key) {
				t.Errorf("span %s leaks the raw key in %q", s.Name, txt)
			}
		}
	}
}

func TestFetchSpan(t *testing.T) {
	tracer, exp := newTracer(t)
	s := newStack(t, cache.Options{}, newMemory(t, "l1", nil))
	uninstall := otelcache.Instrument(s, tracer, otelcache.Options{})
	defer uninstall()
	var took atomic.Int64
	s.Subscribe(func(e cache.Event) { // runs after the instrument's listener
		if e.Type == cache.EventFetch {
			took.Store(int64(e.Duration))
		}
	})

	v := cache.Typed[string](s)
	if _, err := v.Get(context.Background(), secretKey, func(context.Context) (string, error) { return "Ada", nil }); err != nil {
		t.Fatalf("Get: %v", err)
	}
	spans := spansNamed(exp, "layercache.fetch")
	if len(spans) != 1 {
		t.Fatalf("got %d fetch spans; want 1 (all spans: %d)", len(spans), len(exp.GetSpans()))
	}
	sp := spans[0]
	a := attrs(sp)
	if got := a[otelcache.AttrKeyHash].AsString(); got != hash(secretKey) {
		t.Errorf("key_hash = %q; want sha256 hex %q", got, hash(secretKey))
	}
	if _, ok := a[otelcache.AttrKey]; ok {
		t.Errorf("raw key attribute present without RawKeys")
	}
	if a[otelcache.AttrEvent].AsString() != "fetch" || !a[otelcache.AttrSuccess].AsBool() {
		t.Errorf("attributes = %v; want event fetch, success true", sp.Attributes)
	}
	if d := sp.EndTime.Sub(sp.StartTime); d != time.Duration(took.Load()) || d <= 0 {
		t.Errorf("span lasts %v; want the event's Duration %v", d, time.Duration(took.Load()))
	}
	if sp.SpanKind != trace.SpanKindInternal || sp.Status.Code != codes.Unset {
		t.Errorf("kind %v, status %v; want internal, unset", sp.SpanKind, sp.Status.Code)
	}
	if len(spansNamed(exp, "layercache.hit"))+len(spansNamed(exp, "layercache.set")) != 0 {
		t.Errorf("hit or set traced by default")
	}
	checkNoRawKey(t, exp, secretKey)
}

func TestFetchErrorIsRecordedWithoutKey(t *testing.T) {
	tracer, exp := newTracer(t)
	s := newStack(t, cache.Options{}, newMemory(t, "l1", nil))
	uninstall := otelcache.Instrument(s, tracer, otelcache.Options{})
	defer uninstall()

	boom := errors.New("db: no row for " + secretKey)
	v := cache.Typed[string](s)
	if _, err := v.Get(context.Background(), secretKey, func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("Get error = %v; want boom", err)
	}
	sp := spansNamed(exp, "layercache.fetch")[0]
	if sp.Status.Code != codes.Error || sp.Status.Description != "db: no row for <redacted>" {
		t.Errorf("status = %+v; want Error with the key redacted", sp.Status)
	}
	if attrs(sp)[otelcache.AttrSuccess].AsBool() {
		t.Errorf("success = true for a failed fetch")
	}
	if len(sp.Events) != 1 || sp.Events[0].Name != "exception" {
		t.Fatalf("events = %+v; want one exception", sp.Events)
	}
	ev := map[attribute.Key]string{}
	for _, kv := range sp.Events[0].Attributes {
		ev[kv.Key] = kv.Value.AsString()
	}
	if ev["exception.type"] != "*errors.errorString" || ev["exception.message"] != "db: no row for <redacted>" {
		t.Errorf("exception attributes = %v", ev)
	}
	checkNoRawKey(t, exp, secretKey)
}

func TestRawKeys(t *testing.T) {
	tracer, exp := newTracer(t)
	s := newStack(t, cache.Options{}, newMemory(t, "l1", nil))
	uninstall := otelcache.Instrument(s, tracer, otelcache.Options{RawKeys: true})
	defer uninstall()

	boom := errors.New("db: no row for " + secretKey)
	_, _ = cache.Typed[string](s).Get(context.Background(), secretKey, func(context.Context) (string, error) { return "", boom })
	sp := spansNamed(exp, "layercache.fetch")[0]
	a := attrs(sp)
	if a[otelcache.AttrKey].AsString() != secretKey {
		t.Errorf("layercache.key = %q; want %q", a[otelcache.AttrKey].AsString(), secretKey)
	}
	if _, ok := a[otelcache.AttrKeyHash]; ok {
		t.Errorf("key_hash set alongside the raw key")
	}
	if sp.Status.Description != boom.Error() {
		t.Errorf("status description = %q; want the unredacted %q", sp.Status.Description, boom.Error())
	}
}

func TestNotFoundIsNotAnError(t *testing.T) {
	tracer, exp := newTracer(t)
	s := newStack(t, cache.Options{}, newMemory(t, "l1", nil))
	uninstall := otelcache.Instrument(s, tracer, otelcache.Options{})
	defer uninstall()

	_, _ = cache.Typed[string](s).Get(context.Background(), "k", func(context.Context) (string, error) { return "", cache.ErrNotFound })
	sp := spansNamed(exp, "layercache.fetch")[0]
	a := attrs(sp)
	if sp.Status.Code != codes.Unset || len(sp.Events) != 0 || !a[otelcache.AttrNotFound].AsBool() || !a[otelcache.AttrSuccess].AsBool() {
		t.Errorf("status %v, events %v, attributes %v; want unset, none, not_found and success true", sp.Status, sp.Events, sp.Attributes)
	}
}

func TestDeleteExpireAndLayerErrors(t *testing.T) {
	tracer, exp := newTracer(t)
	broken := &failing{Layer: newMemory(t, "redis", nil)}
	s := newStack(t, cache.Options{}, newMemory(t, "l1", nil), broken)
	uninstall := otelcache.Instrument(s, tracer, otelcache.Options{})
	defer uninstall()
	ctx := context.Background()

	if err := s.Delete(ctx, secretKey); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Expire(ctx, secretKey); err != nil {
		t.Fatalf("Expire: %v", err)
	}
	if _, err := cache.Typed[string](s).Get(ctx, secretKey, nil); err == nil {
		t.Fatalf("Get through a failing layer succeeded")
	}
	for _, name := range []string{"layercache.delete", "layercache.expire"} {
		sp := spansNamed(exp, name)
		if len(sp) != 1 {
			t.Errorf("%d %s spans; want 1", len(sp), name)
			continue
		}
		if attrs(sp[0])[otelcache.AttrKeyHash].AsString() != hash(secretKey) || !sp[0].EndTime.Equal(sp[0].StartTime) {
			t.Errorf("%s: attributes %v, %v..%v; want the key hash and no duration", name, sp[0].Attributes, sp[0].StartTime, sp[0].EndTime)
		}
	}
	errs := spansNamed(exp, "layercache.error")
	if len(errs) != 1 {
		t.Fatalf("%d error spans; want 1", len(errs))
	}
	sp := errs[0]
	if attrs(sp)[otelcache.AttrLayer].AsString() != "redis" || sp.Status.Code != codes.Error {
		t.Errorf("error span: attributes %v, status %v; want layer redis, status Error", sp.Attributes, sp.Status)
	}
	if want := `"<redacted>"`; !strings.Contains(sp.Status.Description, want) {
		t.Errorf("error description %q; want the quoted key replaced by %s", sp.Status.Description, want)
	}
	var exType string
	for _, kv := range sp.Events[0].Attributes {
		if kv.Key == "exception.type" {
			exType = kv.Value.AsString()
		}
	}
	if exType != "*cache.LayerError" {
		t.Errorf("exception.type = %q; want *cache.LayerError", exType)
	}
	checkNoRawKey(t, exp, secretKey)
}

// failing is a layer whose reads fail with an error that names the key.
type failing struct{ cache.Layer }

func (f *failing) Get(_ context.Context, key string) (cache.Entry, bool, error) {
	return cache.Entry{}, false, errors.New("connection refused while reading " + key)
}

func TestRefreshSpan(t *testing.T) {
	tracer, exp := newTracer(t)
	clock := cachetest.NewManualClock()
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Minute, StaleWhileRevalidate: time.Hour},
		newMemory(t, "l1", clock))
	uninstall := otelcache.Instrument(s, tracer, otelcache.Options{})
	defer uninstall()
	refreshed := make(chan time.Duration, 1)
	s.Subscribe(func(e cache.Event) { // after the instrument's listener: the span has ended
		if e.Type == cache.EventRefresh {
			refreshed <- e.Duration
		}
	})
	ctx := context.Background()
	v := cache.Typed[string](s)
	if err := v.Set(ctx, "k", "old"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	clock.Advance(2 * time.Minute)
	got, err := v.Get(ctx, "k", func(context.Context) (string, error) { return "new", nil })
	if err != nil || got != "old" {
		t.Fatalf("stale Get = %q, %v; want old", got, err)
	}
	var took time.Duration
	select {
	case took = <-refreshed:
	case <-time.After(10 * time.Second):
		t.Fatal("no refresh event within 10s")
	}
	spans := spansNamed(exp, "layercache.refresh")
	if len(spans) != 1 {
		t.Fatalf("%d refresh spans; want 1", len(spans))
	}
	sp := spans[0]
	if d := sp.EndTime.Sub(sp.StartTime); d != took {
		t.Errorf("refresh span lasts %v; want %v", d, took)
	}
	if a := attrs(sp); !a[otelcache.AttrSuccess].AsBool() || a[otelcache.AttrKeyHash].AsString() != hash("k") {
		t.Errorf("refresh attributes %v", sp.Attributes)
	}
}

func TestEventsOptionAndUninstall(t *testing.T) {
	tracer, exp := newTracer(t)
	s := newStack(t, cache.Options{}, newMemory(t, "l1", nil))
	uninstall := otelcache.Instrument(s, tracer, otelcache.Options{Events: []cache.EventType{cache.EventHit, cache.EventStaleServe}})
	ctx := context.Background()
	v := cache.Typed[string](s)
	_ = v.Set(ctx, "k", "v")
	if _, err := v.Get(ctx, "k", nil); err != nil {
		t.Fatalf("Get: %v", err)
	}
	_ = s.Delete(ctx, "k") // not selected
	if n := len(exp.GetSpans()); n != 1 {
		t.Fatalf("%d spans; want only the hit", n)
	}
	sp := exp.GetSpans()[0]
	if a := attrs(sp); sp.Name != "layercache.hit" || a[otelcache.AttrState].AsString() != "fresh" || a[otelcache.AttrLayer].AsString() != "l1" {
		t.Errorf("span %s with %v; want layercache.hit, state fresh, layer l1", sp.Name, sp.Attributes)
	}
	uninstall()
	uninstall() // idempotent
	_ = v.Set(ctx, "k", "v")
	_, _ = v.Get(ctx, "k", nil)
	if n := len(exp.GetSpans()); n != 1 {
		t.Errorf("%d spans after uninstall; want still 1", n)
	}
}

// panicTracer panics on Start.
type panicTracer struct{ noop.Tracer }

func (panicTracer) Start(context.Context, string, ...trace.SpanStartOption) (context.Context, trace.Span) {
	panic("broken tracer")
}

func TestBrokenTracerDoesNotFailTheCache(t *testing.T) {
	s := newStack(t, cache.Options{}, newMemory(t, "l1", nil))
	uninstall := otelcache.Instrument(s, panicTracer{}, otelcache.Options{})
	defer uninstall()
	got, err := cache.Typed[string](s).Get(context.Background(), "k", func(context.Context) (string, error) { return "v", nil })
	if err != nil || got != "v" {
		t.Errorf("Get = %q, %v; want v despite the panicking tracer", got, err)
	}
}

func TestNilTracerUsesGlobalProvider(t *testing.T) {
	s := newStack(t, cache.Options{}, newMemory(t, "l1", nil))
	uninstall := otelcache.Instrument(s, nil, otelcache.Options{})
	defer uninstall()
	if _, err := cache.Typed[string](s).Get(context.Background(), "k", func(context.Context) (string, error) { return "v", nil }); err != nil {
		t.Errorf("Get: %v", err)
	}
}

// BenchmarkDelete measures what tracing adds to a Delete: one span with a
// hashed key, exported synchronously to a no-op exporter.
func BenchmarkDelete(b *testing.B) {
	for _, traced := range []bool{false, true} {
		name := "plain"
		if traced {
			name = "traced"
		}
		b.Run(name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
			defer func() { _ = tp.Shutdown(context.Background()) }()
			s, err := cache.New(context.Background(), []cache.Layer{newMemory(b, "l1", nil)}, cache.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = s.Close(context.Background()) }()
			if traced {
				uninstall := otelcache.Instrument(s, tp.Tracer("bench"), otelcache.Options{})
				defer uninstall()
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_ = s.Delete(ctx, "user:1")
			}
		})
	}
}
