package httpcache

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// X-Cache values.
const (
	// headerXCache names the header that says how a response was served.
	headerXCache = "X-Cache"
	xCacheHit    = "HIT"
	xCacheMiss   = "MISS"
	xCacheStale  = "STALE"
)

// cachedResponse is the value stored per key. Its fields are exported for
// the Stack's codec; the type is not.
type cachedResponse struct {
	Status int                 `json:"s" msgpack:"s"`
	Header map[string][]string `json:"h,omitempty" msgpack:"h,omitempty"`
	Body   []byte              `json:"b,omitempty" msgpack:"b,omitempty"`
	// StoredAt is when the handler produced the response (Unix ns), for
	// the Age header.
	StoredAt int64 `json:"t" msgpack:"t"`
}

// storable reports whether a finished response may be cached. custom says
// Options.Key is set, which makes the key resolver answer for Vary.
func storable(status int, h http.Header, custom bool) bool {
	if status < 200 || status > 299 || status == http.StatusPartialContent {
		return false
	}
	if _, ok := h["Set-Cookie"]; ok {
		return false
	}
	if _, ok := h["Trailer"]; ok {
		return false
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return false
		}
	}
	for _, v := range h["Cache-Control"] {
		for d := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "private", "no-cache":
				return false
			}
		}
	}
	for _, v := range h["Vary"] {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "*" || (f != "" && !custom) {
				return false
			}
		}
	}
	return true
}

// newCached keeps the configured headers of a storable response.
func newCached(status int, h http.Header, body []byte, names []string, head bool, now time.Time) cachedResponse {
	cr := cachedResponse{Status: status, Body: body, StoredAt: now.UnixNano()}
	for _, name := range names {
		if vs := h[name]; len(vs) > 0 {
			if cr.Header == nil {
				cr.Header = make(map[string][]string, len(names))
			}
			cr.Header[name] = slices.Clone(vs)
		}
	}
	// A HEAD response has no body to measure: keep what the handler said.
	if vs := h["Content-Length"]; head && len(vs) > 0 {
		if cr.Header == nil {
			cr.Header = make(map[string][]string, 1)
		}
		cr.Header["Content-Length"] = slices.Clone(vs)
	}
	return cr
}

// write sends a cached response to w as the answer to r, with X-Cache set to
// state, and answers a matching conditional request with 304 Not Modified.
// age is added as the Age header when positive.
func (cr *cachedResponse) write(w http.ResponseWriter, r *http.Request, state string, age time.Duration) {
	h := w.Header()
	for k, vs := range cr.Header {
		// Clipped, so a wrapper that appends to the header cannot write
		// into the cached slice.
		h[k] = slices.Clip(vs)
	}
	h.Set(headerXCache, state)
	if age > 0 {
		h.Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
	}
	if cr.Status == http.StatusOK && notModified(r, h) {
		// As net/http does for 304s: no representation metadata, and no
		// Last-Modified when there is an ETag.
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Encoding", "Content-Language"} {
			delete(h, k)
		}
		if h.Get("Etag") != "" {
			delete(h, "Last-Modified")
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method != http.MethodHead && bodyAllowed(cr.Status) {
		h.Set("Content-Length", strconv.Itoa(len(cr.Body)))
	}
	w.WriteHeader(cr.Status)
	if r.Method != http.MethodHead && bodyAllowed(cr.Status) {
		_, _ = w.Write(cr.Body) // the client went away; nothing to do
	}
}

// bodyAllowed reports whether a response with status may carry a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && status >= 200
}

// conditionalHeaders are removed from the request a handler sees when it
// fills the cache, so that it produces the full response; the middleware
// answers them itself from the cached one.
var conditionalHeaders = []string{"If-None-Match", "If-Modified-Since", "If-Range", "Range"}

// notModified evaluates If-None-Match, then If-Modified-Since, of a GET or
// HEAD request against the validators of a 200 response (RFC 9110 13.2.2).
func notModified(r *http.Request, h http.Header) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		etag := h.Get("Etag")
		return etag != "" && etagMatches(inm, etag)
	}
	ims := r.Header.Get("If-Modified-Since")
	lm := h.Get("Last-Modified")
	if ims == "" || lm == "" {
		return false
	}
	since, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	modified, err := http.ParseTime(lm)
	if err != nil {
		return false
	}
	return !modified.After(since)
}

// etagMatches applies the weak comparison of If-None-Match: list is "*" or
// a comma-separated list of entity tags.
func etagMatches(list, etag string) bool {
	if strings.TrimSpace(list) == "*" {
		return true
	}
	etag = strings.TrimPrefix(etag, "W/")
	for t := range strings.SplitSeq(list, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == etag {
			return true
		}
	}
	return false
}
