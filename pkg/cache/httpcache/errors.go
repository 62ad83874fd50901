package httpcache

import (
	"fmt"

	"github.com/layercache/layercache/pkg/cache"
)

// errPass is what a fetch returns for a response that must not be cached
// and is not a failure of the source (a 404, a Set-Cookie, a stream). It
// wraps cache.ErrNotFound, which the Stack treats as an answer: it is not
// counted as a fetch error, does not trip a breaker, is not masked by a
// stale-if-error value, and with NegativeTTL(0) on every call it is not
// stored. Requests that waited on the fetch get it and run their handler
// themselves.
var errPass = fmt.Errorf("httpcache: response not cacheable: %w", cache.ErrNotFound)

// failure is what a fetch returns when the handler failed: a 5xx, a panic,
// or a Runner error that is not a client error. The Stack counts it as a
// fetch error, so breakers see it and stale-if-error windows apply.
type failure struct{ reason string }

func (e *failure) Error() string { return "httpcache: handler failed: " + e.reason }
