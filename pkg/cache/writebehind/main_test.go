package writebehind_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// layer a test creates is closed by its cleanup, and Close waits for the
// flusher goroutine to return.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
