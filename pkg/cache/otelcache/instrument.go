package otelcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/layercache/layercache/pkg/cache"
)

// ScopeName is the instrumentation scope of the tracer Instrument uses when
// it is given none.
const ScopeName = "github.com/layercache/layercache/pkg/cache/otelcache"

// Attribute keys set on spans.
const (
	AttrEvent    = attribute.Key("layercache.event")
	AttrKeyHash  = attribute.Key("layercache.key_hash")
	AttrKey      = attribute.Key("layercache.key")
	AttrLayer    = attribute.Key("layercache.layer")
	AttrState    = attribute.Key("layercache.state")
	AttrSuccess  = attribute.Key("layercache.success")
	AttrNotFound = attribute.Key("layercache.not_found")
)

// redacted replaces the key in error messages when Options.RawKeys is off.
const redacted = "<redacted>"

// Options configures Instrument. The zero Options is valid.
type Options struct {
	// RawKeys puts the raw key in the layercache.key attribute and leaves
	// error messages untouched. Turn it on only when traces stay where the
	// keys may be seen.
	//
	// default: false (layercache.key_hash holds the hex SHA-256 of the key,
	// and the key is removed from error messages)
	RawKeys bool

	// Events lists the event types that become spans. Types the Stack
	// never emits are ignored.
	//
	// default: DefaultEvents()
	Events []cache.EventType
}

// DefaultEvents returns the event types traced when Options.Events is
// empty: fetch, refresh, delete, expire, error, corrupt, breaker-open and
// degraded. The caller owns the slice.
func DefaultEvents() []cache.EventType {
	return []cache.EventType{
		cache.EventFetch, cache.EventRefresh, cache.EventDelete, cache.EventExpire,
		cache.EventError, cache.EventCorrupt, cache.EventBreakerOpen, cache.EventDegraded,
	}
}

// instrument turns events into spans.
type instrument struct {
	tracer  trace.Tracer
	rawKeys bool
	want    [256]bool   // indexed by cache.EventType
	names   [256]string // span name per event type
}

// Instrument starts tracing s's events with tracer (nil: the global
// provider's tracer for ScopeName) and returns a function that stops it.
// uninstall may be called more than once; it waits for no span, since each
// span ends within the event that made it. Instrument does not modify opts.
func Instrument(s *cache.Stack, tracer trace.Tracer, opts Options) (uninstall func()) {
	if tracer == nil {
		tracer = otel.Tracer(ScopeName)
	}
	in := &instrument{tracer: tracer, rawKeys: opts.RawKeys}
	events := opts.Events
	if len(events) == 0 {
		events = DefaultEvents()
	}
	for _, t := range events {
		in.want[t] = true
		in.names[t] = "layercache." + strings.ReplaceAll(t.String(), "-", "_")
	}
	unsubscribe := s.Subscribe(in.listen)
	var once sync.Once
	return func() { once.Do(unsubscribe) }
}

// listen is the cache.Listener. It must never panic into the cache call
// that emitted the event.
func (in *instrument) listen(e cache.Event) {
	if !in.want[e.Type] {
		return
	}
	defer func() { _ = recover() }() // a broken tracer must not fail the cache call
	end := time.Now()
	start := end
	if e.Duration > 0 {
		start = end.Add(-e.Duration)
	}

	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, AttrEvent.String(e.Type.String()))
	if e.Key != "" {
		if in.rawKeys {
			attrs = append(attrs, AttrKey.String(e.Key))
		} else {
			attrs = append(attrs, AttrKeyHash.String(hashKey(e.Key)))
		}
	}
	if e.Layer != "" {
		attrs = append(attrs, AttrLayer.String(e.Layer))
	}
	switch e.Type {
	case cache.EventHit, cache.EventStaleServe:
		attrs = append(attrs, AttrState.String(e.State.String()))
	case cache.EventFetch, cache.EventRefresh:
		attrs = append(attrs, AttrSuccess.Bool(e.Err == nil || errors.Is(e.Err, cache.ErrNotFound)))
	}
	notFound := e.Err != nil && errors.Is(e.Err, cache.ErrNotFound)
	if notFound && e.Type == cache.EventFetch {
		attrs = append(attrs, AttrNotFound.Bool(true))
	}

	_, span := in.tracer.Start(context.Background(), in.names[e.Type],
		trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	if e.Err != nil && !notFound {
		in.recordError(span, e.Err, e.Key, end)
	}
	span.End(trace.WithTimestamp(end))
}

// recordError records err on span, with the key removed from its message
// unless raw keys are allowed.
func (in *instrument) recordError(span trace.Span, err error, key string, at time.Time) {
	if in.rawKeys {
		span.RecordError(err, trace.WithTimestamp(at))
		span.SetStatus(codes.Error, err.Error())
		return
	}
	msg := redact(err.Error(), key)
	// The attributes RecordError would set, with the redacted message.
	span.AddEvent("exception", trace.WithTimestamp(at), trace.WithAttributes(
		attribute.String("exception.type", typeName(err)),
		attribute.String("exception.message", msg),
	))
	span.SetStatus(codes.Error, msg)
}

// redact removes key from msg, Go-quoted occurrences first (the Stack's
// errors format keys with %q).
func redact(msg, key string) string {
	if key == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, strconv.Quote(key), strconv.Quote(redacted))
	return strings.ReplaceAll(msg, key, redacted)
}

// hashKey returns the hex SHA-256 of key.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// typeName names err's dynamic type the way the OpenTelemetry SDK does for
// exception.type.
func typeName(err error) string {
	t := reflect.TypeOf(err)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String()
	}
	return fmt.Sprintf("%s.%s", t.PkgPath(), t.Name())
}
