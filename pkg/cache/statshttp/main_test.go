package statshttp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: test
// servers, Stacks and memory layers are closed by each test's cleanup.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
