package otelcache_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/otelcache"
)

func Example() {
	ctx := context.Background()
	exporter := tracetest.NewInMemoryExporter() // in production: an OTLP exporter with a batcher
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer func() { _ = provider.Shutdown(ctx) }()

	mem, err := memory.New(memory.Options{})
	if err != nil {
		panic(err)
	}
	stack, err := cache.New(ctx, []cache.Layer{mem}, cache.Options{})
	if err != nil {
		panic(err)
	}
	defer func() { _ = stack.Close(ctx) }()

	uninstall := otelcache.Instrument(stack, provider.Tracer("example"), otelcache.Options{})
	defer uninstall()

	users := cache.Typed[string](stack)
	_, _ = users.Get(ctx, "user:1", func(context.Context) (string, error) { return "Ada", nil })
	_ = stack.Delete(ctx, "user:1")

	for _, span := range exporter.GetSpans() {
		for _, kv := range span.Attributes {
			if kv.Key == otelcache.AttrKeyHash {
				fmt.Println(span.Name, kv.Key, kv.Value.AsString()[:16]+"…")
			}
		}
	}
	// Output:
	// layercache.fetch layercache.key_hash abc3a47b8ad18b85…
	// layercache.delete layercache.key_hash abc3a47b8ad18b85…
}
