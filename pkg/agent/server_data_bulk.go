package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
)

// bulkFetchConcurrency bounds the origin loads of one bulk read.
const bulkFetchConcurrency = 16

// getKeys reads many keys: one pass over the tiers for all of them, then a
// read-through of each missing key that has an origin (the single-key path,
// so concurrent readers of a key still share one load).
func (a *Agent) getKeys(w http.ResponseWriter, r *http.Request) {
	req, err := agentapi.Decode[agentapi.BulkGetRequest](r.Body, agentapi.MaxRequestBytes)
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	if err := req.Validate(); err != nil {
		writeCacheError(w, err)
		return
	}
	a.withRuntime(w, func(rt *runtime) {
		ctx := r.Context()
		found, err := rt.view.GetMany(ctx, req.Keys, nil)
		if err != nil && len(found) == 0 {
			writeCacheError(w, err)
			return
		}
		res := agentapi.BulkGetResult{Values: make(map[string]json.RawMessage, len(req.Keys))}
		for k, v := range found {
			res.Values[k] = v
		}
		readThrough(ctx, rt, dedupe(req.Keys), &res)
		for _, k := range dedupe(req.Keys) {
			if _, ok := res.Values[k]; !ok {
				if _, failed := res.Failed[k]; !failed {
					res.Missing = append(res.Missing, k)
				}
			}
		}
		writeData(w, http.StatusOK, res)
	})
}

// readThrough loads the keys res lacks from their origins into res.
func readThrough(ctx context.Context, rt *runtime, keys []string, res *agentapi.BulkGetResult) {
	var missing []string
	for _, k := range keys {
		if _, ok := res.Values[k]; !ok {
			missing = append(missing, k)
		}
	}
	var mu sync.Mutex // protects res from here on
	var g errgroup.Group
	g.SetLimit(bulkFetchConcurrency)
	for _, k := range missing {
		fetch, opts, ok := rt.origins.fetcher(k)
		if !ok {
			continue
		}
		g.Go(func() error {
			v, err := rt.view.Get(ctx, k, fetch, opts...)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				res.Values[k] = v
			case !errors.Is(err, cache.ErrNotFound):
				if res.Failed == nil {
					res.Failed = map[string]string{}
				}
				res.Failed[k] = err.Error()
			}
			return nil
		})
	}
	_ = g.Wait() // every goroutine returns nil; failures are in res
}

// putKeys writes many keys with the request's ttl and tags.
func (a *Agent) putKeys(w http.ResponseWriter, r *http.Request) {
	req, err := agentapi.Decode[agentapi.BulkSetRequest](r.Body, a.opts.MaxValueBytes)
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	if err := req.Validate(); err != nil {
		writeCacheError(w, err)
		return
	}
	var opts []cache.Option
	if req.TTL > 0 {
		opts = append(opts, cache.TTL(req.TTL.Std()))
	}
	if len(req.Tags) > 0 {
		opts = append(opts, cache.Tags(req.Tags...))
	}
	items := make([]cache.KeyValue[json.RawMessage], len(req.Items))
	for i, it := range req.Items {
		items[i] = cache.KeyValue[json.RawMessage]{Key: it.Key, Value: it.Value}
	}
	a.withRuntime(w, func(rt *runtime) {
		if err := rt.view.SetMany(r.Context(), items, opts...); err != nil {
			writeCacheError(w, err)
			return
		}
		writeData(w, http.StatusOK, agentapi.BulkSetResult{Stored: len(items)})
	})
}
