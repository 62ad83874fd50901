package layerstats_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layerstats"
)

// pingLayer answers Ping with behaviour chosen by the test.
type pingLayer struct {
	cache.Layer // nil: only Info and Ping are called
	name        string
	ping        func(ctx context.Context) error
}

func (p *pingLayer) Info() cache.LayerInfo          { return cache.LayerInfo{Name: p.name} }
func (p *pingLayer) Ping(ctx context.Context) error { return p.ping(ctx) }

func TestCheck(t *testing.T) {
	down := errors.New("connection refused")
	healthy := layerstats.Wrap(newMemory(t, "memory"))
	layers := []cache.Layer{
		healthy,
		&pingLayer{name: "down", ping: func(context.Context) error { return down }},
		&pingLayer{name: "hung", ping: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		&pingLayer{name: "panics", ping: func(context.Context) error { panic("bad layer") }},
		nil,
	}
	got := layerstats.Check(context.Background(), layers, 20*time.Millisecond)
	if len(got) != len(layers) {
		t.Fatalf("Check returned %d results for %d layers", len(got), len(layers))
	}
	if h := got[0]; h.Layer != "memory" || !h.OK || h.Err != nil {
		t.Errorf("memory: %+v; want OK", h)
	}
	if h := got[1]; h.Layer != "down" || h.OK || !errors.Is(h.Err, down) {
		t.Errorf("down: %+v; want its error", h)
	}
	if h := got[2]; h.Layer != "hung" || h.OK || !errors.Is(h.Err, context.DeadlineExceeded) || h.Latency < 20*time.Millisecond {
		t.Errorf("hung: %+v; want DeadlineExceeded after at least the 20ms timeout", h)
	}
	if h := got[3]; h.OK || h.Err == nil || !strings.Contains(h.Err.Error(), "panicked: bad layer") {
		t.Errorf("panics: %+v; want the panic as an error", h)
	}
	if h := got[4]; h.OK || h.Err == nil {
		t.Errorf("nil layer: %+v; want a failure", h)
	}
	if n := healthy.Summary(layerstats.OpPing).Count; n != 1 {
		t.Errorf("wrapped layer recorded %d pings; want 1", n)
	}
}

func TestCheckLatePingFails(t *testing.T) {
	// A ping that ignores its context and answers after the deadline is
	// too late to count as healthy.
	l := &pingLayer{name: "late", ping: func(ctx context.Context) error { <-ctx.Done(); return nil }}
	h := layerstats.Check(context.Background(), []cache.Layer{l}, time.Millisecond)[0]
	if h.OK || !errors.Is(h.Err, context.DeadlineExceeded) {
		t.Errorf("late ping: %+v; want DeadlineExceeded", h)
	}
}

func TestCheckWithoutTimeoutUsesCtx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := &pingLayer{name: "ctx", ping: func(ctx context.Context) error { return ctx.Err() }}
	h := layerstats.Check(ctx, []cache.Layer{l}, 0)[0]
	if h.OK || !errors.Is(h.Err, context.Canceled) {
		t.Errorf("cancelled ctx: %+v; want context.Canceled", h)
	}
}
