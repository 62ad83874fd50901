package cache_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/layercache/layercache/internal/redistest"
)

func TestMain(m *testing.M) {
	// One real redis-server serves the package's Redis tests. The coarse
	// clocks of memory layers and stacks stop on Close; anything still
	// running after the tests is a leak.
	goleak.VerifyTestMain(redistest.Wrap(m))
}
