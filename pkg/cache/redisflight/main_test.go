package redisflight_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/layercache/layercache/internal/redistest"
)

// TestMain runs a child process of the multi-process tests when childEnv
// says so (see process_test.go); otherwise it shares one redis-server
// between the package's tests and fails them if any goroutine outlives
// them (the server is stopped first).
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(redistest.Wrap(m))
}
