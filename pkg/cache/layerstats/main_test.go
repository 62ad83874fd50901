package layerstats_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: Check's
// pings, the memory layers' clocks and the Stacks' background work must all
// have stopped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
