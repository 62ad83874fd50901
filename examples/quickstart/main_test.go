package main

import (
	"context"
	"testing"
)

// TestQuickstartRuns keeps the README's `make demo-engine` working.
func TestQuickstartRuns(t *testing.T) {
	if err := run(context.Background()); err != nil {
		t.Fatalf("quickstart: %v", err)
	}
}
