package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
)

// dataHandler serves the data API (package agentapi lists the paths).
func (a *Agent) dataHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+agentapi.PathKey, a.getKey)
	mux.HandleFunc("PUT "+agentapi.PathKey, a.putKey)
	mux.HandleFunc("DELETE "+agentapi.PathKey, a.deleteKey)
	mux.HandleFunc("POST "+agentapi.PathKeys, a.getKeys)
	mux.HandleFunc("PUT "+agentapi.PathKeys, a.putKeys)
	mux.HandleFunc("POST "+agentapi.PathInvalidate, a.invalidateData)
	mux.HandleFunc("POST "+agentapi.PathTagsInvalidate, a.invalidateTags)
	mux.HandleFunc("/", notFound)
	return mux
}

// withRuntime runs h with the current runtime, or answers 503.
func (a *Agent) withRuntime(w http.ResponseWriter, h func(rt *runtime)) {
	rt, leave := a.acquire()
	defer leave()
	if rt == nil {
		writeError(w, agentapi.CodeUnavailable, "the agent is not serving a policy")
		return
	}
	h(rt)
}

// getKey answers the value of a key: from the cache, else from the origin
// whose pattern matches it (read-through, once for all concurrent callers
// of the key), else 404. The body is the raw JSON value; X-Cache says
// where it came from.
func (a *Agent) getKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if err := cache.ValidateKey(key); err != nil {
		writeError(w, agentapi.CodeInvalidKey, err.Error())
		return
	}
	a.withRuntime(w, func(rt *runtime) {
		fetch, opts, hasOrigin := rt.origins.fetcher(key)
		mark := a.marks.read(key)
		v, err := rt.view.Get(r.Context(), key, fetch, opts...)
		w.Header().Set(agentapi.HeaderCache, a.cacheSource(r.Context(), rt, key, mark, err))
		switch {
		case errors.Is(err, cache.ErrMiss) && !hasOrigin:
			writeError(w, agentapi.CodeNotFound, "key is not cached and no origin matches it")
		case err != nil:
			writeCacheError(w, err)
		default:
			w.Header().Set("Content-Type", "application/json")
			// A failed write means the client has gone.
			_, _ = w.Write(v)
		}
	})
}

// cacheSource is the X-Cache value of a GET (see fetchMarks): MISS when a
// load of the key finished during the call (or nothing was found), STALE
// when the memory tier now holds a stale entry, HIT otherwise.
func (a *Agent) cacheSource(ctx context.Context, rt *runtime, key string, mark uint64, err error) string {
	if a.marks.read(key) != mark || errors.Is(err, cache.ErrMiss) {
		return agentapi.CacheMiss
	}
	if e, ok, lerr := rt.memory.v.Get(ctx, key); lerr == nil && ok {
		switch e.State(time.Now().UnixNano()) {
		case cache.StateStale, cache.StateStaleIfError:
			return agentapi.CacheStale
		}
	}
	if err != nil && !errors.Is(err, cache.ErrNotFound) {
		return agentapi.CacheMiss
	}
	return agentapi.CacheHit
}

// putKey stores the body (a JSON value) under the key, with the query's
// ttl and tags; 204 on success.
func (a *Agent) putKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if err := cache.ValidateKey(key); err != nil {
		writeError(w, agentapi.CodeInvalidKey, err.Error())
		return
	}
	opts, err := writeOptions(r)
	if err != nil {
		writeError(w, agentapi.CodeBadRequest, err.Error())
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, a.opts.MaxValueBytes+1))
	switch {
	case err != nil:
		writeError(w, agentapi.CodeBadRequest, "read body: "+err.Error())
		return
	case int64(len(body)) > a.opts.MaxValueBytes:
		writeError(w, agentapi.CodeTooLarge, "the value is larger than the agent's limit")
		return
	case len(body) == 0 || !json.Valid(body):
		writeError(w, agentapi.CodeBadRequest, "the body must be a JSON value")
		return
	}
	a.withRuntime(w, func(rt *runtime) {
		if err := rt.view.Set(r.Context(), key, json.RawMessage(body), opts...); err != nil {
			writeCacheError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// writeOptions reads the ttl and tags query parameters of a write.
func writeOptions(r *http.Request) ([]cache.Option, error) {
	q := r.URL.Query()
	var opts []cache.Option
	if s := q.Get(agentapi.QueryTTL); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, errors.New("query parameter ttl must be a non-negative Go duration such as 30s")
		}
		opts = append(opts, cache.TTL(d))
	}
	if s := q.Get(agentapi.QueryTags); s != "" {
		opts = append(opts, cache.Tags(strings.Split(s, ",")...))
	}
	return opts, nil
}

// deleteKey removes the key from every tier; 204 on success.
func (a *Agent) deleteKey(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if err := cache.ValidateKey(key); err != nil {
		writeError(w, agentapi.CodeInvalidKey, err.Error())
		return
	}
	a.withRuntime(w, func(rt *runtime) {
		if err := rt.stack.Delete(r.Context(), key); err != nil {
			writeCacheError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// invalidateData removes entries by tags, keys, prefixes, patterns or all,
// from every tier.
func (a *Agent) invalidateData(w http.ResponseWriter, r *http.Request) {
	t, err := agentapi.Decode[agentapi.InvalidationTarget](r.Body, agentapi.MaxRequestBytes)
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	a.invalidateTarget(w, r, t)
}

// invalidateTags removes the entries carrying tags, from every tier.
func (a *Agent) invalidateTags(w http.ResponseWriter, r *http.Request) {
	req, err := agentapi.Decode[agentapi.TagInvalidateRequest](r.Body, agentapi.MaxRequestBytes)
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	a.invalidateTarget(w, r, agentapi.InvalidationTarget{Tags: &agentapi.TagTarget{Values: req.Tags, Match: req.Match}})
}

func (a *Agent) invalidateTarget(w http.ResponseWriter, r *http.Request, t agentapi.InvalidationTarget) {
	a.withRuntime(w, func(rt *runtime) {
		n, err := rt.invalidate(r.Context(), agentapi.LayersAll, t)
		if err != nil {
			writeCacheError(w, err)
			return
		}
		writeData(w, http.StatusOK, agentapi.InvalidateResult{KeysRemoved: n})
	})
}
