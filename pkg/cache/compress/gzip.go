package compress

import (
	"bytes"
	"encoding/binary"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// gzipCodec pools gzip writers and readers; the zero value is ready to use.
type gzipCodec struct {
	writers sync.Pool // *gzipWriter
	readers sync.Pool // *gzipReader
}

type gzipWriter struct {
	w   *gzip.Writer
	out appendWriter
}

type gzipReader struct {
	r   gzip.Reader
	src bytes.Reader
}

func (g *gzipCodec) appendEncoded(dst, src []byte) ([]byte, error) {
	gw, _ := g.writers.Get().(*gzipWriter)
	if gw == nil {
		gw = new(gzipWriter)
		gw.w = gzip.NewWriter(&gw.out)
	}
	gw.out.b = dst
	gw.w.Reset(&gw.out)
	_, err := gw.w.Write(src)
	if err == nil {
		err = gw.w.Close()
	}
	dst, gw.out.b = gw.out.b, nil
	g.writers.Put(gw)
	return dst, err
}

func (g *gzipCodec) decode(src []byte, limit int) ([]byte, error) {
	gr, _ := g.readers.Get().(*gzipReader)
	if gr == nil {
		gr = new(gzipReader)
	}
	gr.src.Reset(src)
	err := gr.r.Reset(&gr.src)
	var out []byte
	if err == nil {
		out, err = readLimited(&gr.r, limit, gzipHint(src))
	}
	gr.src.Reset(nil)
	g.readers.Put(gr) // Reset clears any error state
	return out, err
}

// gzipHint reads the decoded size (mod 2^32) from the gzip trailer. It is
// only a hint: a hostile trailer just costs a clamped allocation.
func gzipHint(src []byte) int {
	if len(src) < 18 {
		return hintFor(len(src))
	}
	return int(binary.LittleEndian.Uint32(src[len(src)-4:]))
}
