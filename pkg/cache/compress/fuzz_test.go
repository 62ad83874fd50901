package compress_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/layercache/layercache/pkg/cache/compress"
)

const (
	fuzzMaxOutput = 1 << 20
	fuzzMaxRatio  = 100
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic (a
// recovered decoder panic counts as a failure too), and what it returns must
// respect MaxOutputBytes and MaxRatio.
func FuzzDecode(f *testing.F) {
	in := text(4096)
	for _, alg := range algorithms {
		enc, err := mustNew(f, compress.Options{Algorithm: alg, Threshold: 1}).Encode(nil, in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
		f.Add(enc[:len(enc)/2])
		if alg != compress.None {
			f.Add(bomb(f, alg, 2<<20))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0, 1})
	c := mustNew(f, compress.Options{MaxOutputBytes: fuzzMaxOutput, MaxInputBytes: fuzzMaxOutput, MaxRatio: fuzzMaxRatio})
	f.Fuzz(func(t *testing.T, src []byte) {
		out, err := c.Decode(src)
		if err != nil {
			if strings.Contains(err.Error(), "panicked") {
				t.Fatalf("decoder panicked on %d-byte input: %v", len(src), err)
			}
			if !errors.Is(err, compress.ErrCorrupt) && !errors.Is(err, compress.ErrTooLarge) && !errors.Is(err, compress.ErrRatio) {
				t.Fatalf("Decode error %v wraps none of ErrCorrupt, ErrTooLarge, ErrRatio", err)
			}
			return
		}
		if len(out) > fuzzMaxOutput {
			t.Fatalf("Decode returned %d bytes, cap is %d", len(out), fuzzMaxOutput)
		}
		if compress.Algorithm(src[0]) != compress.None && len(out) > fuzzMaxRatio*(len(src)-1) {
			t.Fatalf("Decode returned %d bytes from %d compressed, ratio cap is %d", len(out), len(src)-1, fuzzMaxRatio)
		}
	})
}

// FuzzRoundTrip checks that every algorithm gives back what it was given.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), uint8(compress.Zstd))
	f.Add(text(3000), uint8(compress.Brotli))
	f.Add(bytes.Repeat([]byte{0}, 5000), uint8(compress.Gzip))
	var cs []*compress.Compressor
	for _, alg := range algorithms {
		cs = append(cs, mustNew(f, compress.Options{Algorithm: alg, Threshold: 1}))
	}
	f.Fuzz(func(t *testing.T, in []byte, alg uint8) {
		c := cs[int(alg)%len(cs)]
		enc, err := c.Encode(nil, in)
		if err != nil {
			t.Fatalf("%s Encode(%d bytes): %v", c.Options().Algorithm, len(in), err)
		}
		out, err := c.Decode(enc)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%s round trip of %d bytes: %d bytes, %v", c.Options().Algorithm, len(in), len(out), err)
		}
	})
}
