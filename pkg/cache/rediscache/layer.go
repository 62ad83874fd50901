package rediscache

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/compress"
)

// Layer is a cache.Layer stored in Redis. Build it with New; the zero value
// is not usable. It is safe for concurrent use.
type Layer struct {
	client        redis.UniversalClient
	info          cache.LayerInfo
	prefix        string
	comp          *compress.Compressor
	maxValue      int
	scanCount     int64
	deleteBatch   int
	pipelineBatch int

	corrupt atomic.Uint64 // entries dropped because they did not decode
}

var _ cache.Layer = (*Layer)(nil)

// New validates opts and returns a Layer. It does no I/O: use Ping to check
// the connection. New does not modify opts.
func New(opts Options) (*Layer, error) {
	c, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	return &Layer{
		client:        c.Client,
		info:          cache.LayerInfo{Name: c.Name, Shared: true},
		prefix:        c.Prefix,
		comp:          c.comp,
		maxValue:      c.MaxValueBytes,
		scanCount:     int64(c.ScanCount),
		deleteBatch:   c.DeleteBatch,
		pipelineBatch: c.PipelineBatch,
	}, nil
}

// Info reports the layer's name; the layer is shared and stores encoded
// payloads (Values false).
func (l *Layer) Info() cache.LayerInfo { return l.info }

// CorruptEntries is how many stored entries the layer has found undecodable
// (bad compression, bad envelope) and deleted since it was created.
func (l *Layer) CorruptEntries() uint64 { return l.corrupt.Load() }

// Ping sends PING to Redis (on a Cluster: to one node).
func (l *Layer) Ping(ctx context.Context) error {
	if err := l.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis layer: ping: %w", err)
	}
	return nil
}

// Close does nothing and returns nil: the client belongs to the caller, who
// closes it after the layer is no longer used.
func (l *Layer) Close() error { return nil }

// batches calls fn with consecutive sub-slices of s of at most n elements
// and the offset of each, stopping at the first error.
func batches[T any](s []T, n int, fn func(off int, batch []T) error) error {
	for off := 0; off < len(s); off += n {
		if err := fn(off, s[off:min(off+n, len(s))]); err != nil {
			return err
		}
	}
	return nil
}
