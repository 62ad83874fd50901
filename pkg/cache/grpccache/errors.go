package grpccache

import (
	"fmt"

	"github.com/layercache/layercache/pkg/cache"
)

// errPass is what a fetch returns for an answer that is not cached and is
// not a failure of the server (NotFound, PermissionDenied, a response that
// is not a proto message). It wraps cache.ErrNotFound, which the Stack
// treats as an answer: no fetch error, no breaker failure, no stale value
// instead, and with NegativeTTL(0) on every read nothing is stored.
var errPass = fmt.Errorf("grpccache: answer not cacheable: %w", cache.ErrNotFound)
