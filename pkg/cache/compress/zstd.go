package compress

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdCodec encodes with one shared Encoder (EncodeAll is safe for
// concurrent use and starts no goroutines) and decodes with pooled
// single-threaded Decoders (WithDecoderConcurrency(1) decodes synchronously,
// so a Decoder owns no goroutine and needs no Close).
type zstdCodec struct {
	enc     *zstd.Encoder // nil unless the Compressor writes zstd
	window  uint64        // largest window a frame may declare
	readers sync.Pool     // *zstdReader
}

type zstdReader struct {
	d   *zstd.Decoder
	src bytes.Reader
}

func newZstdCodec(encode bool, maxOutput int) (*zstdCodec, error) {
	z := &zstdCodec{window: max(uint64(maxOutput), zstd.MinWindowSize)}
	if encode {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return nil, fmt.Errorf("compress: zstd encoder: %w", err)
		}
		z.enc = enc
	}
	return z, nil
}

func (z *zstdCodec) appendEncoded(dst, src []byte) ([]byte, error) {
	return z.enc.EncodeAll(src, dst), nil
}

func (z *zstdCodec) decode(src []byte, limit int) ([]byte, error) {
	zr, _ := z.readers.Get().(*zstdReader)
	if zr == nil {
		d, err := zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(z.window),
			zstd.WithDecoderMaxMemory(z.window))
		if err != nil {
			return nil, err
		}
		zr = &zstdReader{d: d}
	}
	zr.src.Reset(src)
	err := zr.d.Reset(&zr.src)
	var out []byte
	if err == nil {
		out, err = readLimited(zr.d, limit, zstdHint(src))
	}
	zr.src.Reset(nil)
	// Reset(nil) drops the decoder's reference to src and clears any error
	// state; it fails only on a closed decoder, which this one never is.
	if zr.d.Reset(nil) == nil {
		z.readers.Put(zr)
	}
	if errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
		return nil, fmt.Errorf("%w: zstd frame needs a window above %d bytes", ErrTooLarge, z.window)
	}
	return out, err
}

// zstdHint reads the decoded size from the frame header when it is there.
func zstdHint(src []byte) int {
	var h zstd.Header
	if h.Decode(src) != nil || !h.HasFCS || h.FrameContentSize > math.MaxInt {
		return hintFor(len(src))
	}
	return int(h.FrameContentSize)
}
