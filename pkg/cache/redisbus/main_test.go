package redisbus_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/layercache/layercache/internal/redistest"
)

// TestMain shares one redis-server among the package's tests and fails them
// if any goroutine outlives them (the server is stopped first).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(redistest.Wrap(m))
}
