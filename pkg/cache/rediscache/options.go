package rediscache

import (
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache/compress"
)

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultName is the layer name used when Options.Name is empty.
	DefaultName = "redis"
	// DefaultMaxValueBytes is Options.MaxValueBytes when it is 0.
	DefaultMaxValueBytes = 16 << 20
	// DefaultScanCount is Options.ScanCount when it is 0.
	DefaultScanCount = 500
	// DefaultDeleteBatch is Options.DeleteBatch when it is 0.
	DefaultDeleteBatch = 500
	// DefaultPipelineBatch is Options.PipelineBatch when it is 0.
	DefaultPipelineBatch = 500
)

// Options configures a Layer. Only Client is required.
type Options struct {
	// Client is the connection to Redis: a *redis.Client, a failover
	// (Sentinel) client from redis.NewFailoverClient, a
	// *redis.ClusterClient or a *redis.Ring. It belongs to the caller: the
	// layer never closes it.
	//
	// default: none (required)
	Client redis.UniversalClient

	// Name identifies the layer in metrics, events and per-layer options.
	// It must be unique within a Stack.
	//
	// default: "redis"
	Name string

	// Prefix is prepended to every key the layer stores, and Scan and Clear
	// look only at keys that start with it, so applications (or
	// environments) can share a Redis. With an empty prefix Scan reports
	// every key in the database, other applications' included, and Clear
	// refuses to run (ErrNoPrefix) rather than delete them all. On a
	// Cluster, a hash tag in the prefix ("{app}:") puts every key in one
	// slot, on one node.
	//
	// default: "" (no prefix)
	Prefix string

	// Compression selects the algorithm applied to encoded entries at or
	// above its Threshold and the caps enforced when reading. Entries are
	// read whatever algorithm wrote them, so the algorithm can change
	// between deployments.
	//
	// default: compress.Options{} (no compression; reads capped at 64 MiB)
	Compression compress.Options

	// MaxValueBytes is the largest entry, in bytes of its encoded envelope
	// before compression (cache.EntrySize), that Set and SetMany store;
	// larger ones fail with an error wrapping cache.ErrTooLarge. It must not
	// exceed Compression.MaxInputBytes (after its default).
	//
	// default: 16 MiB
	MaxValueBytes int

	// ScanCount is the COUNT hint of each SCAN call of Scan and Clear: how
	// much work Redis does per round trip.
	//
	// default: 500
	ScanCount int

	// DeleteBatch is the most keys DeleteMany and Clear delete in one
	// pipeline (one UNLINK per key).
	//
	// default: 500
	DeleteBatch int

	// PipelineBatch is the most commands GetMany and SetMany send in one
	// pipeline (one GET or SET per key).
	//
	// default: 500
	PipelineBatch int
}

// config is Options after defaults and validation.
type config struct {
	Options
	comp *compress.Compressor
}

// resolve applies defaults and validates o. It never adjusts a value the
// caller set; an invalid one is an error naming the field.
func (o Options) resolve() (config, error) {
	if o.Client == nil {
		return config{}, errors.New("redis layer: Options.Client is required")
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxValueBytes", &o.MaxValueBytes, DefaultMaxValueBytes},
		{"ScanCount", &o.ScanCount, DefaultScanCount},
		{"DeleteBatch", &o.DeleteBatch, DefaultDeleteBatch},
		{"PipelineBatch", &o.PipelineBatch, DefaultPipelineBatch},
	} {
		if *f.v < 0 {
			return config{}, fmt.Errorf("redis layer: Options.%s is %d, must not be negative", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	comp, err := compress.New(o.Compression)
	if err != nil {
		return config{}, fmt.Errorf("redis layer: Options.Compression: %w", err)
	}
	if limit := comp.Options().MaxInputBytes; o.MaxValueBytes > limit {
		return config{}, fmt.Errorf("redis layer: Options.MaxValueBytes (%d) exceeds Options.Compression.MaxInputBytes (%d)",
			o.MaxValueBytes, limit)
	}
	return config{Options: o, comp: comp}, nil
}
