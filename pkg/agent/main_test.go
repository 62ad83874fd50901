package agent_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/layercache/layercache/internal/redistest"
)

func TestMain(m *testing.M) {
	// One real redis-server serves the package's Redis tests. Every agent
	// a test starts is stopped by its cleanup: anything still running
	// after the tests is a leak.
	goleak.VerifyTestMain(redistest.Wrap(m))
}
