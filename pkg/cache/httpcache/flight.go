package httpcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// flightKey marks the context of a request's own cache read with its
// flight, so a fetch can tell the request's own run from a background
// refresh (whose context comes from the Stack, without request values).
type flightKey struct{}

// flight is one request's read of the cache. Its fetch runs the handler in
// one of two ways:
//
//   - For the request itself (the Stack started a fetch for its read and it
//     has not left): next runs on its own goroutine, writing to a recorder
//     that can spill to the request's writer. The request waits for that
//     goroutine in leave, even when its own context ends, because next may
//     use the request's writer and framework context.
//   - Otherwise (a background refresh, or a fetch that began after the
//     request left): refresh runs with a detached clone of the request and
//     a recorder without a client.
type flight struct {
	cfg           *config
	w             http.ResponseWriter
	r             *http.Request
	next, refresh Runner

	mu      sync.Mutex // protects gone, started and done
	gone    bool       // the request has left its cache read
	started bool       // the request's own run has started
	done    chan struct{}

	// out is written by the request's own run and read after done is
	// closed.
	out outcome
}

// outcome is what the request's own run of next produced.
type outcome struct {
	ran      bool
	failed   bool // next failed (see failure)
	spilled  bool // the response streamed to the client
	panicked bool
	panicVal any
	err      error           // next's error
	value    *cachedResponse // a storable response
	pass     *passResponse   // an unstorable one, for this client only
	fetchErr error           // what the fetch returned when value is nil
}

// leave ends the request's cache read: no run for it starts after this,
// and a run that started has finished when leave returns.
func (f *flight) leave() {
	f.mu.Lock()
	f.gone = true
	started, done := f.started, f.done
	f.mu.Unlock()
	if started {
		<-done
	}
}

// fetch is the cache.Fetcher of the read.
func (f *flight) fetch(ctx context.Context) (cachedResponse, error) {
	if ctx.Value(flightKey{}) == f {
		f.mu.Lock()
		own := !f.gone
		if own {
			f.started, f.done = true, make(chan struct{})
		}
		f.mu.Unlock()
		if own {
			return f.fill(ctx)
		}
	}
	return f.background(ctx)
}

// fill runs next for the request itself.
func (f *flight) fill(fctx context.Context) (cachedResponse, error) {
	rec := newRecorder(f.cfg.maxBody, f.w)
	// The handler's context keeps the request's values. It ends with the
	// fetch (every waiting request left, a fetch timeout, Close) until the
	// response spills; from then on the response is this request's alone
	// and it ends with the request.
	hctx, cancel := context.WithCancel(context.WithoutCancel(f.r.Context()))
	var (
		smu       sync.Mutex // protects streaming, finished and stopReq
		streaming bool
		finished  bool
		stopReq   func() bool
	)
	stopFetch := context.AfterFunc(fctx, func() {
		smu.Lock()
		defer smu.Unlock()
		if !streaming {
			cancel()
		}
	})
	req := f.r.Clone(hctx)
	for _, h := range conditionalHeaders {
		req.Header.Del(h)
	}
	go func() { // owned by the request: leave waits for done
		defer close(f.done)
		defer func() {
			stopFetch()
			cancel()
			smu.Lock()
			finished = true
			if stopReq != nil {
				stopReq()
			}
			smu.Unlock()
		}()
		f.run(rec, req)
	}()
	select {
	case <-f.done:
		if f.out.value != nil {
			return *f.out.value, nil
		}
		return cachedResponse{}, f.out.fetchErr
	case <-rec.spilled:
		smu.Lock()
		streaming = true
		if !finished {
			stopReq = context.AfterFunc(f.r.Context(), cancel)
		}
		smu.Unlock()
		return cachedResponse{}, errPass
	}
}

// run calls next and settles f.out. It runs on the goroutine fill starts.
func (f *flight) run(rec *recorder, req *http.Request) {
	out := &f.out
	out.ran = true
	func() {
		defer func() {
			if p := recover(); p != nil {
				out.panicked, out.panicVal = true, p
			}
		}()
		out.err = f.next(rec, req)
	}()
	rec.finish()
	switch {
	case out.panicked:
		out.failed = true
		out.fetchErr = &failure{reason: fmt.Sprintf("panic: %v", out.panicVal)}
	case rec.streaming:
		out.spilled, out.fetchErr = true, errPass
	default:
		var pass *passResponse
		out.value, pass, out.fetchErr = f.settle(rec, out.err, req.Method)
		out.failed = out.fetchErr != nil && !errors.Is(out.fetchErr, errPass)
		if out.err == nil {
			out.pass = pass
		}
	}
}

// settle turns a finished recording into the fetch's result: a storable
// response, or an unstorable one and the error the fetch returns for it.
func (f *flight) settle(rec *recorder, runErr error, method string) (*cachedResponse, *passResponse, error) {
	if runErr != nil {
		if code := statusOf(runErr); code < 500 {
			return nil, nil, errPass
		}
		return nil, nil, &failure{reason: runErr.Error()}
	}
	body := rec.body.Bytes()
	if storable(rec.status, rec.header, f.cfg.custom) {
		head := method == http.MethodHead
		if head {
			if _, ok := rec.header["Content-Length"]; !ok && bodyAllowed(rec.status) {
				rec.header.Set("Content-Length", strconv.Itoa(len(body)))
			}
			body = nil
		}
		v := newCached(rec.status, rec.header, bytes.Clone(body), f.cfg.headers, head, time.Now())
		return &v, nil, nil
	}
	pass := &passResponse{status: rec.status, header: rec.header, body: body}
	if rec.status >= 500 {
		return nil, pass, &failure{reason: "status " + strconv.Itoa(rec.status)}
	}
	return nil, pass, errPass
}

// background runs refresh with a detached clone of the request: for a
// background refresh, or a fetch that started after the request left.
func (f *flight) background(fctx context.Context) (cachedResponse, error) {
	if f.refresh == nil {
		return cachedResponse{}, errPass
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(f.r.Context()))
	defer cancel()
	stop := context.AfterFunc(fctx, cancel)
	defer stop()
	req := f.r.Clone(hctx)
	for _, h := range conditionalHeaders {
		req.Header.Del(h)
	}
	req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	rec := newRecorder(f.cfg.maxBody, nil)
	err := f.refresh(rec, req) // a panic reaches the Stack as a fetch error
	rec.finish()
	if rec.streaming {
		return cachedResponse{}, errPass
	}
	v, _, ferr := f.settle(rec, err, req.Method)
	if v == nil {
		return cachedResponse{}, ferr
	}
	return *v, nil
}

// answer writes what the request's own run produced when the cache read
// returned no value.
func (o *outcome) answer(w http.ResponseWriter, r *http.Request) error {
	switch {
	case o.panicked:
		panic(o.panicVal)
	case o.spilled || o.err != nil:
		return o.err
	case o.value != nil:
		o.value.write(w, r, xCacheMiss, 0)
	case o.pass != nil:
		o.pass.write(w)
	}
	return nil
}

// statusOf returns the status code an error of a Runner stands for: its
// StatusCode() when it has one, else 500.
func statusOf(err error) int {
	if sc, ok := errors.AsType[interface {
		error
		StatusCode() int
	}](err); ok {
		return sc.StatusCode()
	}
	return http.StatusInternalServerError
}
