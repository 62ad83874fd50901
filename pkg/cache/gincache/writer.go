package gincache

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
)

// errHijack is returned by Hijack: a response being cached is buffered and
// has no connection to take over.
var errHijack = errors.New("gincache: a response being cached cannot be hijacked")

// writer is the gin.ResponseWriter handlers write to while they fill the
// cache. Like gin's own, it holds the status until the first write, so a
// handler may change it until then.
type writer struct {
	rw     http.ResponseWriter
	status int
	size   int // -1 until the header is written
}

var _ gin.ResponseWriter = (*writer)(nil)

func newWriter(rw http.ResponseWriter) *writer {
	return &writer{rw: rw, status: http.StatusOK, size: -1}
}

func (w *writer) Header() http.Header { return w.rw.Header() }

// WriteHeader sets the status written with the first byte.
func (w *writer) WriteHeader(code int) {
	if code > 0 && !w.Written() {
		w.status = code
	}
}

// WriteHeaderNow writes the header if it has not been written.
func (w *writer) WriteHeaderNow() {
	if !w.Written() {
		w.size = 0
		w.rw.WriteHeader(w.status)
	}
}

func (w *writer) Write(b []byte) (int, error) {
	w.WriteHeaderNow()
	n, err := w.rw.Write(b)
	w.size += n
	return n, err
}

func (w *writer) WriteString(s string) (int, error) {
	w.WriteHeaderNow()
	n, err := io.WriteString(w.rw, s)
	w.size += n
	return n, err
}

func (w *writer) Status() int   { return w.status }
func (w *writer) Size() int     { return w.size }
func (w *writer) Written() bool { return w.size != -1 }

// Flush sends the response so far: it streams from then on and is not
// cached.
func (w *writer) Flush() {
	w.WriteHeaderNow()
	_ = http.NewResponseController(w.rw).Flush() // the client went away; later writes fail
}

// Hijack fails: see errHijack.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errHijack }

// CloseNotify returns a channel that never fires; use the request's
// context, which ends when nobody waits for the response any more.
func (w *writer) CloseNotify() <-chan bool { return make(chan bool) }

// Pusher returns nil: server push is not available while caching.
func (w *writer) Pusher() http.Pusher { return nil }
