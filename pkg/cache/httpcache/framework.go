package httpcache

import (
	"context"
	"net/http"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// FrameworkOptions are Options for the middleware of a web framework whose
// handlers take a context of type C (gin's *gin.Context, echo's
// echo.Context): Key and Tags receive that context, so that they can read
// route parameters. The framework adapters (gincache, echocache) use it as
// their Options. The zero value is valid.
type FrameworkOptions[C any] struct {
	// Key returns the cache key of a request, or false to serve it
	// uncached. Setting it turns off the credential and Vary refusals, as
	// Options.Key does. It is called on the request's goroutine before the
	// handlers run.
	//
	// default: DefaultKey, for requests without credentials only
	Key func(c C) (key string, ok bool)

	// Tags returns the tags a response is stored with.
	//
	// default: no tags
	Tags func(c C) []string

	// TTL is how long a cached response stays fresh.
	//
	// default: 0 (the Stack's TTL)
	TTL time.Duration

	// MaxBodyBytes is the largest response body cached.
	//
	// default: DefaultMaxBodyBytes (1 MiB)
	MaxBodyBytes int

	// Methods are the request methods cached: "GET", "HEAD" or both.
	//
	// default: GET and HEAD
	Methods []string

	// Headers are the response headers stored with a cached response.
	//
	// default: DefaultHeaders
	Headers []string

	// CallOptions are added to every cache read (stale windows, per-layer
	// TTLs, ...).
	//
	// default: none
	CallOptions []cache.Option
}

// frameworkKey carries a framework context in a request's context.
type frameworkKey[C any] struct{}

// Options translates o for New. Key and Tags read the framework context
// that WithFrameworkContext put on the request; needsContext reports
// whether the adapter must put it there.
func (o FrameworkOptions[C]) Options() (opts Options, needsContext bool) {
	opts = Options{
		TTL: o.TTL, MaxBodyBytes: o.MaxBodyBytes, Methods: o.Methods,
		Headers: o.Headers, CallOptions: o.CallOptions,
	}
	if o.Key != nil {
		opts.Key = func(r *http.Request) (string, bool) { return o.Key(FrameworkContext[C](r)) }
	}
	if o.Tags != nil {
		opts.Tags = func(r *http.Request) []string { return o.Tags(FrameworkContext[C](r)) }
	}
	return opts, o.Key != nil || o.Tags != nil
}

// WithFrameworkContext returns r carrying the framework context c for the
// Key and Tags of FrameworkOptions. Serve calls them on the request's
// goroutine before the handlers run, while c is still the request's.
func WithFrameworkContext[C any](r *http.Request, c C) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), frameworkKey[C]{}, c))
}

// FrameworkContext returns the framework context WithFrameworkContext put
// on r (the zero C if none).
func FrameworkContext[C any](r *http.Request) C {
	c, _ := r.Context().Value(frameworkKey[C]{}).(C)
	return c
}
