package agentclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// Data is a client of the data API (plain HTTP, normally on localhost).
type Data struct {
	conn
}

// NewData returns a client of the data API at host ("127.0.0.1:7070").
// With hc nil it uses a transport of its own (see Close).
func NewData(host string, hc *http.Client) *Data {
	return &Data{conn: newConn("http", host, hc, nil)}
}

// Value is a value read from the agent.
type Value struct {
	// JSON is the value as stored.
	JSON json.RawMessage
	// Cache is the X-Cache header: agentapi.CacheHit, CacheMiss or
	// CacheStale.
	Cache string
}

// Get reads key (read-through via the agent's origins). A missing key is
// an *Error with Code agentapi.CodeNotFound (see IsNotFound).
func (c *Data) Get(ctx context.Context, key string) (Value, error) {
	resp, err := c.do(ctx, http.MethodGet, agentapi.KeyPath(key), nil)
	if err != nil {
		return Value{}, err
	}
	defer func() { _ = resp.Body.Close() }() // fully read below
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return Value{}, fmt.Errorf("agentclient: read value: %w", err)
	}
	return Value{JSON: body, Cache: resp.Header.Get(agentapi.HeaderCache)}, nil
}

// SetOptions are the options of a write.
type SetOptions struct {
	// TTL overrides the policy's freshness TTL (0: the policy's).
	TTL time.Duration
	// Tags are attached to the entry.
	Tags []string
}

// Set stores value (a JSON document) under key.
func (c *Data) Set(ctx context.Context, key string, value json.RawMessage, opts SetOptions) error {
	q := url.Values{}
	if opts.TTL > 0 {
		q.Set(agentapi.QueryTTL, opts.TTL.String())
	}
	if len(opts.Tags) > 0 {
		q.Set(agentapi.QueryTags, strings.Join(opts.Tags, ","))
	}
	path := agentapi.KeyPath(key)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.do(ctx, http.MethodPut, path, value)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// Delete removes key from every tier.
func (c *Data) Delete(ctx context.Context, key string) error {
	resp, err := c.do(ctx, http.MethodDelete, agentapi.KeyPath(key), nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// GetMany reads keys (read-through for those with an origin).
func (c *Data) GetMany(ctx context.Context, keys []string) (agentapi.BulkGetResult, error) {
	return call[agentapi.BulkGetResult](ctx, &c.conn, http.MethodPost, agentapi.PathKeys, agentapi.BulkGetRequest{Keys: keys})
}

// SetMany writes the request's items and returns how many were stored.
func (c *Data) SetMany(ctx context.Context, req agentapi.BulkSetRequest) (int, error) {
	res, err := call[agentapi.BulkSetResult](ctx, &c.conn, http.MethodPut, agentapi.PathKeys, req)
	return res.Stored, err
}

// Invalidate removes the entries target selects from every tier and
// returns how many keys were removed.
func (c *Data) Invalidate(ctx context.Context, target agentapi.InvalidationTarget) (int, error) {
	res, err := call[agentapi.InvalidateResult](ctx, &c.conn, http.MethodPost, agentapi.PathInvalidate, target)
	return res.KeysRemoved, err
}

// InvalidateTags removes the entries carrying tags (any or all of them).
func (c *Data) InvalidateTags(ctx context.Context, tags []string, match agentapi.TagMatch) (int, error) {
	res, err := call[agentapi.InvalidateResult](ctx, &c.conn, http.MethodPost, agentapi.PathTagsInvalidate,
		agentapi.TagInvalidateRequest{Tags: tags, Match: match})
	return res.KeysRemoved, err
}
