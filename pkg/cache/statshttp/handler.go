package statshttp

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layerstats"
)

// Options configures the handler. The zero Options is valid and refuses
// every request.
type Options struct {
	// Authorize decides whether a request may read the stats, for example
	// by checking a bearer token or the client certificate. It is not
	// called when AllowPublic is set. It must be safe for concurrent use.
	//
	// default: nil (every request is refused unless AllowPublic is set)
	Authorize func(*http.Request) bool

	// AllowPublic serves the stats to every request. Set it only when the
	// handler is reachable by trusted clients alone.
	//
	// default: false
	AllowPublic bool

	// Layers are layerstats wrappers of the Stack's layers; their latency
	// is added to the report under their names. None may be nil.
	//
	// default: none (no latency section)
	Layers []*layerstats.Layer
}

// handler serves one Stack's Report.
type handler struct {
	s      *cache.Stack
	opts   Options
	layers []*layerstats.Layer
}

// New returns an http.Handler that serves s's statistics as a JSON
// [Report]. s must not be nil. New keeps its own copy of opts.Layers; the
// handler holds s and the layers but never closes them.
func New(s *cache.Stack, opts Options) http.Handler {
	return &handler{s: s, opts: opts, layers: slices.Clone(opts.Layers)}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")

	if !h.opts.AllowPublic && (h.opts.Authorize == nil || !h.opts.Authorize(r)) {
		writeError(w, r, http.StatusForbidden, "forbidden")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		writeError(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	body, err := json.MarshalIndent(report(h.s, h.layers), "", "  ")
	if err != nil {
		writeError(w, r, http.StatusInternalServerError, "cannot encode stats")
		return
	}
	writeJSON(w, r, http.StatusOK, append(body, '\n'))
}

// errorBody is the JSON of every error reply.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	body, _ := json.Marshal(errorBody{Error: msg}) // cannot fail: one string field
	writeJSON(w, r, code, append(body, '\n'))
}

// writeJSON writes the status and, except for HEAD, the body. A failed
// write means the client went away; there is no one left to tell.
func writeJSON(w http.ResponseWriter, r *http.Request, code int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
