package httpcache_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Stacks stop their clocks and refreshes on Close; a handler goroutine
	// still running after the tests is a leak.
	goleak.VerifyTestMain(m)
}
