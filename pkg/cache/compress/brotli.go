package compress

import (
	"bytes"
	"sync"

	"github.com/andybalholm/brotli"
)

// brotliCodec pools brotli writers and readers; the zero value is ready to
// use.
type brotliCodec struct {
	writers sync.Pool // *brotliWriter
	readers sync.Pool // *brotliReader
}

type brotliWriter struct {
	w   *brotli.Writer
	out appendWriter
}

type brotliReader struct {
	r   *brotli.Reader
	src bytes.Reader
}

func (b *brotliCodec) appendEncoded(dst, src []byte) ([]byte, error) {
	bw, _ := b.writers.Get().(*brotliWriter)
	if bw == nil {
		bw = new(brotliWriter)
		bw.w = brotli.NewWriterLevel(&bw.out, brotli.DefaultCompression)
	}
	bw.out.b = dst
	bw.w.Reset(&bw.out)
	_, err := bw.w.Write(src)
	if err == nil {
		err = bw.w.Close()
	}
	dst, bw.out.b = bw.out.b, nil
	b.writers.Put(bw)
	return dst, err
}

func (b *brotliCodec) decode(src []byte, limit int) ([]byte, error) {
	br, _ := b.readers.Get().(*brotliReader)
	if br == nil {
		br = new(brotliReader)
		br.r = brotli.NewReader(&br.src)
	}
	br.src.Reset(src)
	// Reset never fails (documented); it clears state left by an error.
	_ = br.r.Reset(&br.src)
	out, err := readLimited(br.r, limit, hintFor(len(src)))
	br.src.Reset(nil)
	b.readers.Put(br)
	return out, err
}
