package disk

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: New's
// index loaders must all have returned.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
