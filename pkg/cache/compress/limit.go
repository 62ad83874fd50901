package compress

import (
	"errors"
	"io"
)

// errLimit reports decoded output above the limit readLimited was given.
var errLimit = errors.New("compress: output limit reached")

// maxEmptyReads bounds consecutive (0, nil) reads before readLimited gives
// up, as io.ReadFull's callers would otherwise spin forever.
const maxEmptyReads = 100

// readLimited reads r to EOF into a new slice of at most limit bytes. It
// starts with hint bytes of capacity (clamped to [1, limit]), so an accurate
// hint means a single allocation, and doubles up to limit when the hint is
// short. Output beyond limit fails with errLimit before anything larger is
// allocated.
func readLimited(r io.Reader, limit, hint int) ([]byte, error) {
	buf := make([]byte, 0, min(max(hint, 1), limit))
	var probe [1]byte
	for empty := 0; ; {
		var n int
		var err error
		if len(buf) < cap(buf) {
			n, err = r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
		} else {
			// The buffer is full: find out whether the stream has ended
			// before growing it.
			n, err = r.Read(probe[:])
			if n > 0 {
				if len(buf) >= limit {
					return nil, errLimit
				}
				grown := make([]byte, len(buf), min(limit, 2*cap(buf)))
				copy(grown, buf)
				buf = append(grown, probe[0])
			}
		}
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, err
		case n > 0:
			empty = 0
		default:
			if empty++; empty > maxEmptyReads {
				return nil, io.ErrNoProgress
			}
		}
	}
}

// hintFor is the starting capacity for decoding n compressed bytes when the
// stream does not state its decoded size.
func hintFor(n int) int { return max(4*n, 512) }

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
