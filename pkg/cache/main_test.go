package cache_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The coarse clocks of memory layers and stacks stop on Close; anything
	// still running after the tests is a leak.
	goleak.VerifyTestMain(m)
}
