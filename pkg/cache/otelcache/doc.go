// Package otelcache traces a cache.Stack with OpenTelemetry.
//
// [Instrument] subscribes to the Stack's events (Stack.Subscribe); it wraps
// no method, so it can be installed on a running Stack and removed again:
//
//	uninstall := otelcache.Instrument(stack, otel.Tracer("my-service"), otelcache.Options{})
//	defer uninstall()
//
// Each selected event becomes one span named "layercache.<event>"
// ("layercache.fetch", "layercache.refresh", "layercache.delete", ...; see
// [DefaultEvents]). Events are reported after the fact, so spans are
// created with explicit timestamps: a fetch or refresh span starts
// Event.Duration before the event arrived and ends when it arrived; other
// spans take no time. Events carry no context.Context, so every span is the
// root of its own trace rather than a child of the request that caused it.
//
// Span attributes:
//
//	layercache.event      the event type (cache.EventType.String)
//	layercache.key_hash   hex SHA-256 of the qualified key (namespace included)
//	layercache.key        the raw qualified key, instead of key_hash, only with Options.RawKeys
//	layercache.layer      the layer concerned, when there is one
//	layercache.state      the entry state, for hit and stale-serve events
//	layercache.success    for fetch and refresh: false when it failed
//	layercache.not_found  for fetch: true when the fetcher reported cache.ErrNotFound
//
// A failure (Event.Err, except cache.ErrNotFound) is recorded as an
// "exception" span event and sets the span status to Error.
//
// Raw keys never leave the process unless Options.RawKeys is set: keys often
// hold user ids, e-mail addresses or tokens. Without it the key appears only
// as its hash, and every verbatim or Go-quoted occurrence of the key in an
// error message is replaced by "<redacted>" (the Stack's own errors quote the
// key; an error from your fetcher that embeds a transformed key is not
// recognised). The exception's type is kept.
//
// The listener runs on the goroutine that caused the event, so the cost of
// hashing the key and starting and ending a span is paid by that cache call:
// about 5 µs with the SDK exporting synchronously (BenchmarkDelete), more
// than ten times an in-memory Delete. That is why hits, misses, sets and
// backfills are not traced by default; use a batching span processor in
// production. A panic in the tracer is recovered and
// the span dropped, so tracing can never fail a cache operation.
package otelcache
