package cachetest

import (
	"io"
	"net/http"
	"net/http/httptest"
)

// Response is what a client got from a request served by Do.
type Response struct {
	// Status is the response's status code.
	Status int
	// Header is the response's header, as the handler left it.
	Header http.Header
	// Body is the whole response body.
	Body string
}

// Do serves one request through h, in the calling goroutine, and returns
// what the client got. The request is built by httptest.NewRequest, so it
// has no body and a background context, and Do panics if target is not a
// valid request target. Each entry of header is put on the request as it is:
// its key is not canonicalised, so tests can send unusual spellings.
//
// Do is safe to call from several goroutines at once if h is.
func Do(h http.Handler, method, target string, header http.Header) Response {
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	res := w.Result()
	// The recorder's body is an in-memory buffer: reading it cannot fail.
	body, _ := io.ReadAll(res.Body)
	return Response{Status: res.StatusCode, Header: res.Header, Body: string(body)}
}
