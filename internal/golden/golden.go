// Package golden compares test output with golden files under testdata/.
// Importing it registers the -update flag: `go test ./pkg -update` rewrites
// the files with what the tests produce instead of comparing.
package golden

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Check compares got with the file at path and reports a difference as a
// test error, or rewrites the file with got under -update.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update %s: %v", path, err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (regenerate with go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (regenerate with go test -update if intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
