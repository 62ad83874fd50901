package compress

import (
	"errors"
	"fmt"
)

// codec is one algorithm's encoder and bounded decoder.
type codec interface {
	// appendEncoded appends the compressed form of src to dst.
	appendEncoded(dst, src []byte) ([]byte, error)
	// decode decompresses src into a new slice, failing with errLimit as
	// soon as the output would exceed limit bytes.
	decode(src []byte, limit int) ([]byte, error)
}

// Compressor encodes and decodes values as described in the package
// documentation. Build one with New; the zero value is not usable. It is safe
// for concurrent use.
type Compressor struct {
	opts   Options
	enc    codec                      // nil when opts.Algorithm is None
	codecs [len(algorithmNames)]codec // decoders indexed by marker; [None] is nil
}

// New validates o, fills in its defaults and returns a Compressor. It
// returns an error naming the field for a negative limit, an unknown
// algorithm, or MaxInputBytes above MaxOutputBytes. New does not modify o.
func New(o Options) (*Compressor, error) {
	opts, err := o.resolve()
	if err != nil {
		return nil, err
	}
	zc, err := newZstdCodec(opts.Algorithm == Zstd, opts.MaxOutputBytes)
	if err != nil {
		return nil, err
	}
	c := &Compressor{opts: opts}
	c.codecs[Gzip] = new(gzipCodec)
	c.codecs[Zstd] = zc
	c.codecs[Brotli] = new(brotliCodec)
	c.enc = c.codecs[opts.Algorithm]
	return c, nil
}

// Options returns the options in effect, with defaults filled in.
func (c *Compressor) Options() Options { return c.opts }

// Encode appends the marker byte and the encoded form of src to dst and
// returns the extended slice. src is compressed with Options.Algorithm when it
// is at least Options.Threshold bytes long and compression both shrinks it
// and stays within Options.MaxRatio; otherwise it is stored raw. An input
// longer than Options.MaxInputBytes fails with an error wrapping ErrTooLarge.
// src and dst's spare capacity must not overlap. Encode does not retain src
// or dst; on error it returns dst unchanged.
func (c *Compressor) Encode(dst, src []byte) ([]byte, error) {
	if len(src) > c.opts.MaxInputBytes {
		return dst, fmt.Errorf("%w: input is %d bytes, MaxInputBytes is %d", ErrTooLarge, len(src), c.opts.MaxInputBytes)
	}
	if !c.Compresses(len(src)) {
		return appendRaw(dst, src), nil
	}
	start := len(dst)
	out, err := c.enc.appendEncoded(append(dst, byte(c.opts.Algorithm)), src)
	if err != nil {
		return dst[:start], fmt.Errorf("compress: %s encode: %w", c.opts.Algorithm, err)
	}
	n := len(out) - start - 1
	if n >= len(src) || c.ratioLimit(n) < len(src) {
		// Not worth it, or Decode would take it for a bomb: store raw.
		return appendRaw(out[:start], src), nil
	}
	return out, nil
}

// Compresses reports whether Encode would try to compress an n-byte input:
// the algorithm is not None and n is at least Options.Threshold. When it is
// false, and n is within Options.MaxInputBytes, Encode's output is exactly
// byte(None) followed by the input, so a caller may build that in place and
// save a copy.
func (c *Compressor) Compresses(n int) bool {
	return c.enc != nil && n >= c.opts.Threshold
}

func appendRaw(dst, src []byte) []byte {
	return append(append(dst, byte(None)), src...)
}

// Decode returns the value encoded in src by Encode, whatever algorithm
// wrote it. For a raw value the result aliases src; otherwise it is a new
// slice the caller owns. Decode never returns more than
// Options.MaxOutputBytes bytes and never allocates an output buffer larger
// than that; the decoders' own windows come on top (32 KiB for gzip, at most
// 16 MiB for brotli, at most max(MaxOutputBytes, 1 KiB) for zstd).
//
// Errors wrap ErrCorrupt (empty input, unknown marker, malformed stream,
// including a decoder panic, which is recovered), ErrTooLarge (output above
// MaxOutputBytes) or ErrRatio (output above MaxRatio times the compressed
// size). Decode never panics.
func (c *Compressor) Decode(src []byte) (out []byte, err error) {
	if len(src) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrCorrupt)
	}
	alg, payload := Algorithm(src[0]), src[1:]
	if alg == None {
		if len(payload) > c.opts.MaxOutputBytes {
			return nil, fmt.Errorf("%w: raw value is %d bytes, MaxOutputBytes is %d", ErrTooLarge, len(payload), c.opts.MaxOutputBytes)
		}
		return payload, nil
	}
	if !alg.valid() {
		return nil, fmt.Errorf("%w: unknown algorithm marker %#02x", ErrCorrupt, src[0])
	}
	// A decoder that panics never reaches its pool again (the codecs put
	// decoders back after decoding returns), so its state cannot leak.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%w: %s decoder panicked: %v", ErrCorrupt, alg, r)
		}
	}()
	limit := min(c.opts.MaxOutputBytes, c.ratioLimit(len(payload)))
	out, err = c.codecs[alg].decode(payload, limit)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, ErrTooLarge):
		return nil, err
	case !errors.Is(err, errLimit):
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, alg, err)
	case limit < c.opts.MaxOutputBytes:
		return nil, fmt.Errorf("%w: %s: %d compressed bytes decode to more than %d (MaxRatio %d)",
			ErrRatio, alg, len(payload), limit, c.opts.MaxRatio)
	default:
		return nil, fmt.Errorf("%w: %s: decoded value exceeds MaxOutputBytes (%d)", ErrTooLarge, alg, limit)
	}
}

// ratioLimit is the largest decoded size MaxRatio allows for n compressed
// bytes, saturating instead of overflowing.
func (c *Compressor) ratioLimit(n int) int {
	const maxInt = int(^uint(0) >> 1)
	if n > maxInt/c.opts.MaxRatio {
		return maxInt
	}
	return n * c.opts.MaxRatio
}
