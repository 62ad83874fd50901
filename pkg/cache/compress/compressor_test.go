package compress_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/layercache/layercache/pkg/cache/compress"
)

var algorithms = []compress.Algorithm{compress.None, compress.Gzip, compress.Zstd, compress.Brotli}

func mustNew(t testing.TB, o compress.Options) *compress.Compressor {
	t.Helper()
	c, err := compress.New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return c
}

// text returns n bytes of compressible but not degenerate data.
func text(n int) []byte {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while cache layers hum along")
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.Bytes()[:n]
}

func random(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(2, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestRoundTripPerAlgorithm(t *testing.T) {
	t.Parallel()
	inputs := map[string][]byte{
		"empty":        {},
		"one byte":     {'x'},
		"below":        text(1023),
		"at threshold": text(1024),
		"64KiB text":   text(64 << 10),
		"64KiB random": random(64 << 10),
		"256KiB text":  text(256 << 10),
	}
	for _, alg := range algorithms {
		c := mustNew(t, compress.Options{Algorithm: alg})
		for name, in := range inputs {
			t.Run(fmt.Sprintf("%s/%s", alg, name), func(t *testing.T) {
				enc, err := c.Encode(nil, in)
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				wantMarker := compress.None
				if alg != compress.None && len(in) >= 1024 && name != "64KiB random" {
					wantMarker = alg
				}
				if got := compress.Algorithm(enc[0]); got != wantMarker {
					t.Errorf("marker = %s, want %s", got, wantMarker)
				}
				out, err := c.Decode(enc)
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if !bytes.Equal(out, in) {
					t.Errorf("Decode returned %d bytes, want the %d input bytes", len(out), len(in))
				}
			})
		}
	}
}

func TestDecodeReadsEveryAlgorithmWhateverItsOwn(t *testing.T) {
	t.Parallel()
	in := text(32 << 10)
	for _, writer := range algorithms {
		enc, err := mustNew(t, compress.Options{Algorithm: writer}).Encode(nil, in)
		if err != nil {
			t.Fatalf("%s Encode: %v", writer, err)
		}
		for _, reader := range algorithms {
			out, err := mustNew(t, compress.Options{Algorithm: reader}).Decode(enc)
			if err != nil || !bytes.Equal(out, in) {
				t.Errorf("written with %s, read with %s: %d bytes, err %v; want the input back", writer, reader, len(out), err)
			}
		}
	}
}

func TestEncodeAppendsToDst(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		c := mustNew(t, compress.Options{Algorithm: alg, Threshold: 1})
		in := text(4096)
		enc, err := c.Encode([]byte("head"), in)
		if err != nil {
			t.Fatalf("%s Encode: %v", alg, err)
		}
		if !bytes.HasPrefix(enc, []byte("head")) {
			t.Fatalf("%s Encode dropped dst's contents: %q", alg, enc[:4])
		}
		if out, err := c.Decode(enc[4:]); err != nil || !bytes.Equal(out, in) {
			t.Errorf("%s round trip after prefix: %d bytes, err %v", alg, len(out), err)
		}
	}
}

func TestEncodeRejectsInputAboveMaxInputBytes(t *testing.T) {
	t.Parallel()
	c := mustNew(t, compress.Options{Algorithm: compress.Zstd, MaxInputBytes: 100, MaxOutputBytes: 100})
	dst := []byte("keep")
	got, err := c.Encode(dst, make([]byte, 101))
	if !errors.Is(err, compress.ErrTooLarge) {
		t.Fatalf("Encode(101 bytes) error = %v, want ErrTooLarge", err)
	}
	if string(got) != "keep" {
		t.Errorf("Encode returned %q on error, want dst unchanged", got)
	}
}

func TestEncodeStoresRawWhenRatioWouldBeRejected(t *testing.T) {
	t.Parallel()
	zeros := make([]byte, 1<<20) // compresses far beyond 100:1
	for _, alg := range algorithms[1:] {
		c := mustNew(t, compress.Options{Algorithm: alg})
		enc, err := c.Encode(nil, zeros)
		if err != nil {
			t.Fatalf("%s Encode: %v", alg, err)
		}
		if compress.Algorithm(enc[0]) != compress.None {
			t.Errorf("%s: marker = %s, want none (ratio above MaxRatio)", alg, compress.Algorithm(enc[0]))
		}
		if out, err := c.Decode(enc); err != nil || !bytes.Equal(out, zeros) {
			t.Errorf("%s: Decode = %d bytes, %v; want the input", alg, len(out), err)
		}
		// With room for the ratio it is compressed.
		c = mustNew(t, compress.Options{Algorithm: alg, MaxRatio: 1 << 20})
		if enc, _ = c.Encode(nil, zeros); compress.Algorithm(enc[0]) != alg {
			t.Errorf("%s with MaxRatio 2^20: marker = %s, want %s", alg, compress.Algorithm(enc[0]), alg)
		}
	}
}

func TestDecodeRawAliasesInput(t *testing.T) {
	t.Parallel()
	c := mustNew(t, compress.Options{})
	enc, _ := c.Encode(nil, []byte("value"))
	out, err := c.Decode(enc)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if &out[0] != &enc[1] {
		t.Error("Decode of a raw value copied it, want an alias of the input")
	}
}

func TestDecodeRejectsCorruptInput(t *testing.T) {
	t.Parallel()
	c := mustNew(t, compress.Options{})
	cases := map[string][]byte{
		"empty":          {},
		"unknown marker": {9, 1, 2, 3},
		"gzip garbage":   {byte(compress.Gzip), 1, 2, 3, 4},
		"zstd garbage":   {byte(compress.Zstd), 1, 2, 3, 4},
		"brotli garbage": {byte(compress.Brotli), 0xff, 0xff, 0xff, 0xff},
	}
	in := text(8192)
	for _, alg := range algorithms[1:] {
		enc, _ := mustNew(t, compress.Options{Algorithm: alg}).Encode(nil, in)
		cases[alg.String()+" truncated"] = enc[:len(enc)/2]
		flipped := bytes.Clone(enc)
		flipped[len(flipped)-2] ^= 0xff
		cases[alg.String()+" flipped"] = flipped
	}
	for name, in := range cases {
		out, err := c.Decode(in)
		if name == "brotli flipped" && err == nil {
			continue // brotli has no checksum; the cache envelope's CRC catches this
		}
		if !errors.Is(err, compress.ErrCorrupt) {
			t.Errorf("Decode(%s) = %d bytes, %v; want ErrCorrupt", name, len(out), err)
		}
	}
}

func TestDecodeRawAboveMaxOutputBytes(t *testing.T) {
	t.Parallel()
	c := mustNew(t, compress.Options{MaxInputBytes: 10, MaxOutputBytes: 10})
	if _, err := c.Decode(append([]byte{0}, make([]byte, 11)...)); !errors.Is(err, compress.ErrTooLarge) {
		t.Errorf("Decode(raw 11 bytes, cap 10) error = %v, want ErrTooLarge", err)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	bad := map[string]compress.Options{
		"Algorithm":       {Algorithm: 7},
		"Threshold":       {Threshold: -1},
		"MaxInputBytes":   {MaxInputBytes: -1},
		"MaxOutputBytes":  {MaxOutputBytes: -5},
		"MaxRatio":        {MaxRatio: -1},
		"MaxInputBytes (": {MaxInputBytes: 2 << 20, MaxOutputBytes: 1 << 20},
	}
	for field, o := range bad {
		_, err := compress.New(o)
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("New(%+v) error = %v, want one naming %s", o, err, field)
		}
	}
	c := mustNew(t, compress.Options{})
	want := compress.Options{Threshold: 1024, MaxInputBytes: 64 << 20, MaxOutputBytes: 64 << 20, MaxRatio: 100}
	if got := c.Options(); got != want {
		t.Errorf("Options() = %+v, want %+v", got, want)
	}
}

func TestParseAlgorithm(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		got, err := compress.ParseAlgorithm(strings.ToUpper(alg.String()))
		if err != nil || got != alg {
			t.Errorf("ParseAlgorithm(%q) = %s, %v; want %s", strings.ToUpper(alg.String()), got, err, alg)
		}
	}
	if got, err := compress.ParseAlgorithm(""); err != nil || got != compress.None {
		t.Errorf(`ParseAlgorithm("") = %s, %v; want none`, got, err)
	}
	if _, err := compress.ParseAlgorithm("lz4"); err == nil {
		t.Error(`ParseAlgorithm("lz4") succeeded, want an error`)
	}
	if got := compress.Algorithm(9).String(); got != "algorithm(9)" {
		t.Errorf("Algorithm(9).String() = %q", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		c := mustNew(t, compress.Options{Algorithm: alg})
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 5 {
					in := text(1024 + 997*g + i)
					enc, err := c.Encode(nil, in)
					if err != nil {
						t.Errorf("%s Encode: %v", alg, err)
						return
					}
					if out, err := c.Decode(enc); err != nil || !bytes.Equal(out, in) {
						t.Errorf("%s round trip of %d bytes: %d bytes, %v", alg, len(in), len(out), err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

func TestCompressesMatchesEncode(t *testing.T) {
	t.Parallel()
	for _, alg := range algorithms {
		c := mustNew(t, compress.Options{Algorithm: alg, Threshold: 100})
		for _, n := range []int{0, 99, 100, 5000} {
			in := text(n)
			enc, err := c.Encode(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			raw := bytes.Equal(enc, append([]byte{byte(compress.None)}, in...))
			if !c.Compresses(n) && !raw {
				t.Errorf("%s: Compresses(%d) = false but Encode did not store it raw", alg, n)
			}
			if want := alg != compress.None && n >= 100; c.Compresses(n) != want {
				t.Errorf("%s: Compresses(%d) = %v, want %v", alg, n, c.Compresses(n), want)
			}
		}
	}
}
