package layerstats

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// DefaultCheckTimeout is a sensible per-layer timeout for Check in a
// readiness probe.
const DefaultCheckTimeout = time.Second

// Health is the result of pinging one layer.
type Health struct {
	// Layer is the layer's name (Info().Name).
	Layer string
	// OK is true when Ping returned nil within the timeout.
	OK bool
	// Err is Ping's error, or nil. A ping cut short by the timeout wraps
	// context.DeadlineExceeded.
	Err error
	// Latency is how long Ping took.
	Latency time.Duration
}

// Check pings every layer concurrently, each with a context that ends after
// timeout (zero: bounded by ctx alone; a negative timeout fails every ping),
// and returns one Health per layer in the order given. It waits for every
// Ping to return, so a layer whose Ping ignores its context delays Check.
// A nil layer is reported as failed, and so is a Ping that panics (the
// panic is recovered into Err). Check does not retain layers.
//
// To check the layers of a Stack, pass the layers it was built from; a
// *Layer from Wrap records the ping in its OpPing summary as well.
func Check(ctx context.Context, layers []cache.Layer, timeout time.Duration) []Health {
	out := make([]Health, len(layers))
	var wg sync.WaitGroup
	for i, l := range layers {
		if l == nil {
			out[i] = Health{Err: errors.New("layerstats: layer is nil")}
			continue
		}
		wg.Go(func() { out[i] = ping(ctx, l, timeout) })
	}
	wg.Wait()
	return out
}

func ping(ctx context.Context, l cache.Layer, timeout time.Duration) Health {
	h := Health{Layer: l.Info().Name}
	start := time.Now() // before the deadline is set, so a timeout's Latency is at least timeout
	if timeout != 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := safePing(ctx, l)
	h.Latency = time.Since(start)
	if err == nil && ctx.Err() != nil {
		// The ping answered, but only after the deadline: too late.
		err = ctx.Err()
	}
	h.OK, h.Err = err == nil, err
	return h
}

// safePing calls l.Ping and turns a panic into an error: the ping runs on a
// goroutine of Check, where a panic would end the process.
func safePing(ctx context.Context, l cache.Layer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("layerstats: ping of layer %s panicked: %v", l.Info().Name, r)
		}
	}()
	return l.Ping(ctx)
}
