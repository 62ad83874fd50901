package main

import (
	"fmt"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/compress"
)

// stored is a value read from the Redis layer, decoded as far as it goes:
// the compression marker byte of package compress, then the envelope of
// cache.AppendEntry.
type stored struct {
	size       int                // bytes stored in Redis
	compressed bool               // the marker names an algorithm other than none
	algorithm  compress.Algorithm // valid when the marker is known
	envelope   []byte             // the decompressed envelope; nil if that failed
	entry      cache.Entry        // valid when err is nil
	err        error              // why the value is not a valid entry
}

// decodeStored decodes b as rediscache stores it. comp reads every
// algorithm whatever its own Options say, with the default caps on size
// and ratio.
func decodeStored(comp *compress.Compressor, b []byte) stored {
	s := stored{size: len(b)}
	if len(b) > 0 {
		s.algorithm = compress.Algorithm(b[0])
		s.compressed = s.algorithm != compress.None && knownAlgorithm(s.algorithm)
	}
	env, err := comp.Decode(b)
	if err != nil {
		s.err = err
		return s
	}
	s.envelope = env
	s.entry, s.err = cache.ParseEntry(env)
	return s
}

// newCompressor returns the decoder for stored values: no compression of
// its own, default caps.
func newCompressor() (*compress.Compressor, error) {
	c, err := compress.New(compress.Options{})
	if err != nil {
		return nil, fmt.Errorf("compressor: %w", err)
	}
	return c, nil
}

// knownAlgorithm reports whether a names an algorithm package compress
// supports (its marker byte is not garbage).
func knownAlgorithm(a compress.Algorithm) bool {
	_, err := compress.ParseAlgorithm(a.String())
	return err == nil
}
