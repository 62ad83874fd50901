package compress

import (
	"fmt"
	"strings"
)

// Algorithm names a compression algorithm. Its numeric value is the marker
// byte stored in front of every encoded value, so the values are part of the
// stored format and never change.
type Algorithm uint8

// Supported algorithms.
const (
	// None stores values raw. It is the zero value.
	None Algorithm = 0
	// Gzip is RFC 1952 gzip (github.com/klauspost/compress/gzip, default level).
	Gzip Algorithm = 1
	// Zstd is Zstandard (github.com/klauspost/compress/zstd, default level).
	Zstd Algorithm = 2
	// Brotli is RFC 7932 Brotli (github.com/andybalholm/brotli, default level).
	Brotli Algorithm = 3
)

var algorithmNames = [...]string{None: "none", Gzip: "gzip", Zstd: "zstd", Brotli: "brotli"}

// String returns the algorithm's lower-case name ("none", "gzip", "zstd",
// "brotli"), as accepted by ParseAlgorithm.
func (a Algorithm) String() string {
	if a.valid() {
		return algorithmNames[a]
	}
	return fmt.Sprintf("algorithm(%d)", uint8(a))
}

func (a Algorithm) valid() bool { return int(a) < len(algorithmNames) }

// ParseAlgorithm returns the algorithm named s ("none" or "", "gzip", "zstd",
// "brotli"; case-insensitive), or an error naming the accepted values.
func ParseAlgorithm(s string) (Algorithm, error) {
	if s == "" {
		return None, nil
	}
	for a, name := range algorithmNames {
		if strings.EqualFold(s, name) {
			return Algorithm(a), nil
		}
	}
	return None, fmt.Errorf("compress: unknown algorithm %q (want none, gzip, zstd or brotli)", s)
}

// Defaults applied by New to zero Options fields.
const (
	// DefaultThreshold is Options.Threshold when it is 0.
	DefaultThreshold = 1024
	// DefaultMaxInputBytes is Options.MaxInputBytes when it is 0.
	DefaultMaxInputBytes = 64 << 20
	// DefaultMaxOutputBytes is Options.MaxOutputBytes when it is 0.
	DefaultMaxOutputBytes = 64 << 20
	// DefaultMaxRatio is Options.MaxRatio when it is 0.
	DefaultMaxRatio = 100
)

// Options configure a Compressor. The zero value is valid: no compression,
// default caps. Decode enforces the caps whatever the Algorithm.
type Options struct {
	// Algorithm compresses values written by Encode. Decode reads any
	// algorithm regardless of this field.
	//
	// default: None
	Algorithm Algorithm

	// Threshold is the smallest input, in bytes, that Encode compresses;
	// shorter inputs are stored raw. Set 1 to compress every non-empty
	// value.
	//
	// default: 1024
	Threshold int

	// MaxInputBytes is the longest input, in bytes, Encode accepts; longer
	// inputs fail with an error wrapping ErrTooLarge. It must not exceed
	// MaxOutputBytes, or Encode could write values Decode rejects.
	//
	// default: 64 MiB
	MaxInputBytes int

	// MaxOutputBytes is the largest decoded value, in bytes, Decode
	// produces; Decode never allocates an output buffer larger than this.
	//
	// default: 64 MiB
	MaxOutputBytes int

	// MaxRatio is the largest accepted ratio of decoded size to compressed
	// size; Decode rejects anything above it with ErrRatio. Encode stores a
	// value raw when compressing it would exceed the ratio, so every value
	// it writes can be read back.
	//
	// default: 100
	MaxRatio int
}

// resolve validates o and returns a copy with defaults filled in. It never
// modifies o and never clamps a bad value.
func (o Options) resolve() (Options, error) {
	if !o.Algorithm.valid() {
		return o, fmt.Errorf("compress: Options.Algorithm %s is not supported", o.Algorithm)
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"Threshold", &o.Threshold, DefaultThreshold},
		{"MaxInputBytes", &o.MaxInputBytes, DefaultMaxInputBytes},
		{"MaxOutputBytes", &o.MaxOutputBytes, DefaultMaxOutputBytes},
		{"MaxRatio", &o.MaxRatio, DefaultMaxRatio},
	} {
		if *f.v < 0 {
			return o, fmt.Errorf("compress: Options.%s is %d, must not be negative", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if o.MaxInputBytes > o.MaxOutputBytes {
		return o, fmt.Errorf("compress: Options.MaxInputBytes (%d) exceeds Options.MaxOutputBytes (%d): values it writes could not be read back",
			o.MaxInputBytes, o.MaxOutputBytes)
	}
	return o, nil
}
