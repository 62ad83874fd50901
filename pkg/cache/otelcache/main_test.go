package otelcache_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: Stacks
// (and their background refreshes) and memory layers are closed by each
// test's cleanup, and the tracer providers export synchronously.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
