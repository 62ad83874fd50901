package compress_test

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/layercache/layercache/pkg/cache/compress"
)

// bomb compresses n zero bytes with alg, streaming so the test never holds
// the decoded form, and returns marker + stream.
func bomb(t testing.TB, alg compress.Algorithm, n int) []byte {
	t.Helper()
	out := bytes.NewBuffer([]byte{byte(alg)})
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch alg {
	case compress.Gzip:
		w, _ = gzip.NewWriterLevel(out, gzip.BestSpeed)
	case compress.Zstd:
		zw, err := zstd.NewWriter(out, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	case compress.Brotli:
		w = brotli.NewWriterLevel(out, brotli.BestSpeed)
	}
	chunk := make([]byte, 1<<20)
	for written := 0; written < n; written += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestDecodeRejectsBombs is not parallel, so that the allocation it measures
// is its own.
func TestDecodeRejectsBombs(t *testing.T) {
	const size = 8 << 20 // 8 MiB of zeros
	for _, alg := range algorithms[1:] {
		in := bomb(t, alg, size)
		t.Run(alg.String()+"/ratio", func(t *testing.T) {
			c := mustNew(t, compress.Options{})
			out, err := c.Decode(in)
			if !errors.Is(err, compress.ErrRatio) {
				t.Fatalf("Decode(%d-byte bomb of %d) = %d bytes, %v; want ErrRatio", len(in), size, len(out), err)
			}
		})
		t.Run(alg.String()+"/output", func(t *testing.T) {
			const maxOut = 1 << 20
			c := mustNew(t, compress.Options{MaxOutputBytes: maxOut, MaxInputBytes: maxOut, MaxRatio: 1 << 30})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			out, err := c.Decode(in)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, compress.ErrTooLarge) {
				t.Fatalf("Decode(%d-byte bomb of %d) = %d bytes, %v; want ErrTooLarge", len(in), size, len(out), err)
			}
			// Other parallel tests allocate too, so the bound is loose: the
			// point is that 256 MiB were never materialised.
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Errorf("Decode of a bomb allocated %d bytes, want far less than %d", got, size)
			}
		})
	}
}
