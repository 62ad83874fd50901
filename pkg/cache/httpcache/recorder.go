package httpcache

import (
	"bytes"
	"errors"
	"maps"
	"net/http"
	"slices"
	"sync"
)

// recorder is the http.ResponseWriter a handler writes to while it fills
// the cache. It buffers the response up to a limit. When the response
// outgrows the limit or the handler flushes (a stream), the response cannot
// be cached: a recorder with a client (out) then spills, sending what it
// holds to the client and passing every later write straight through; one
// without a client (a background refresh) drops the rest.
//
// A recorder is used by one handler goroutine; spilled is closed when it
// spills, for the goroutine that waits on the handler.
type recorder struct {
	header http.Header
	status int // 0 until the header is written
	body   bytes.Buffer
	limit  int

	out       http.ResponseWriter // the client, or nil
	spilled   chan struct{}       // closed on spill; nil when out is nil
	spillOnce sync.Once
	streaming bool // spilled, or dropping the rest
}

func newRecorder(limit int, out http.ResponseWriter) *recorder {
	rec := &recorder{header: make(http.Header), limit: limit, out: out}
	if out != nil {
		rec.spilled = make(chan struct{})
	}
	return rec
}

// Header returns the header map the handler fills.
func (rec *recorder) Header() http.Header {
	if rec.streaming && rec.out != nil {
		return rec.out.Header()
	}
	return rec.header
}

// WriteHeader records the status. Informational codes (1xx) are ignored;
// later calls are ignored, as net/http does.
func (rec *recorder) WriteHeader(code int) {
	if rec.status != 0 || (code >= 100 && code <= 199) {
		return
	}
	rec.status = code
}

// Write buffers p, or spills when the body would outgrow the limit.
func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(rec.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if !rec.streaming && rec.body.Len()+len(p) > rec.limit {
		rec.spill()
	}
	if rec.streaming {
		if rec.out == nil {
			return len(p), nil
		}
		return rec.out.Write(p)
	}
	return rec.body.Write(p)
}

// Flush spills: a handler that flushes is streaming, and its client must
// get the data now. Without a client the response is only marked
// uncacheable.
func (rec *recorder) Flush() {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	rec.spill()
	if rec.out != nil {
		err := http.NewResponseController(rec.out).Flush()
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			return // the client went away; later writes fail
		}
	}
}

// spill makes the response uncacheable and, with a client, sends it what
// was buffered.
func (rec *recorder) spill() {
	if rec.streaming {
		return
	}
	rec.streaming = true
	if rec.out == nil {
		rec.body = bytes.Buffer{}
		return
	}
	h := rec.out.Header()
	maps.Copy(h, rec.header)
	h.Set(headerXCache, xCacheMiss)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	rec.out.WriteHeader(status)
	if rec.body.Len() > 0 {
		_, _ = rec.out.Write(rec.body.Bytes()) // later writes report the failure
	}
	rec.body = bytes.Buffer{}
	rec.spillOnce.Do(func() { close(rec.spilled) })
}

// finish completes a response the handler left without a status.
func (rec *recorder) finish() {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
}

// passResponse is a finished response that is not cached: it goes to the
// one client whose request produced it, headers and all.
type passResponse struct {
	status int
	header http.Header
	body   []byte
}

// write sends the response to w.
func (p *passResponse) write(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range p.header {
		h[k] = slices.Clip(vs)
	}
	h.Set(headerXCache, xCacheMiss)
	w.WriteHeader(p.status)
	if len(p.body) > 0 {
		_, _ = w.Write(p.body) // the client went away; nothing to do
	}
}
