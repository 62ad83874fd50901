package cache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// startBus subscribes the Stack to Options.Bus. A failed subscription does
// not fail New (the reference library's startup failure was permanent):
// it is reported and retried in the background, with backoff, until it
// succeeds or the Stack closes.
func (c *core) startBus(ctx context.Context) {
	err := c.opts.Bus.Subscribe(ctx, busHandler{c})
	if err == nil {
		return
	}
	c.busFailed(err)
	c.background.Add(1)
	go func() {
		defer c.background.Done()
		delay := 100 * time.Millisecond
		for {
			t := time.NewTimer(delay)
			select {
			case <-c.life.Done():
				t.Stop()
				return
			case <-t.C:
			}
			err := c.opts.Bus.Subscribe(c.life, busHandler{c})
			if err == nil {
				// Messages published while we were not subscribed are lost:
				// local copies may be stale.
				c.dropLocal(c.detached)
				return
			}
			c.busFailed(err)
			delay = min(delay*2, 30*time.Second)
		}
	}()
}

func (c *core) busFailed(err error) {
	c.metrics.busErrors.inc()
	if c.events.active() {
		c.events.emit(Event{Type: EventError, Err: fmt.Errorf("cache: invalidation bus: %w", err)})
	}
}

// publish tells the other instances about a change. Pub/sub is
// at-most-once, so a failed publish is reported and counted, not returned:
// the change itself has been made.
func (c *core) publish(ctx context.Context, m BusMessage) {
	if c.opts.Bus == nil {
		return
	}
	if err := c.opts.Bus.Publish(context.WithoutCancel(ctx), m); err != nil {
		c.busFailed(err)
		return
	}
	c.metrics.busPublished.inc()
}

// busHandler applies other instances' messages to this instance's local
// (non-shared) layers. The shared layers were changed by the sender.
type busHandler struct{ c *core }

func (h busHandler) OnMessage(m BusMessage) {
	c := h.c
	ctx := c.detached
	c.metrics.busReceived.inc()
	switch m.Kind {
	case BusDelete, BusWrite:
		c.forLocal(m.Keys, func(l *layerState) error { return l.DeleteMany(ctx, m.Keys) })
		c.remoteApplied(m.Keys)
	case BusExpire:
		c.forLocal(m.Keys, func(l *layerState) error { return c.expireInLayer(ctx, l, m.Keys) })
		c.remoteApplied(m.Keys)
	case BusClear:
		c.fences.clearAll(func() {
			for i := range c.layers {
				l := &c.layers[i]
				if l.info.Shared {
					continue
				}
				var err error
				if m.Prefix == "" {
					err = l.Clear(ctx)
				} else {
					err = c.deletePrefix(ctx, l, m.Prefix)
				}
				if err != nil {
					_ = c.layerErr(l, "bus-clear", m.Prefix, err)
				}
			}
		})
		c.flight.ForgetAll()
		c.remoteApplied([]string{""})
	case BusGeneration:
		if c.opts.Generations == nil {
			return
		}
		c.gen.mu.Lock()
		if m.Generation > c.gen.current.Load() {
			old, _ := c.gen.set(m.Generation)
			c.afterGenerationChange(old)
		}
		c.gen.mu.Unlock()
		c.remoteApplied([]string{""})
	}
}

// remoteApplied reports keys changed by another instance's message.
func (c *core) remoteApplied(keys []string) {
	if !c.events.active() {
		return
	}
	for _, k := range keys {
		c.events.emit(Event{Type: EventRemoteInvalidation, Key: k})
	}
}

// OnReconnect drops every local copy: messages may have been missed while
// the subscription was down.
func (h busHandler) OnReconnect() {
	h.c.metrics.busReconnects.inc()
	h.c.dropLocal(h.c.detached)
	h.c.remoteApplied([]string{""})
}

// forLocal runs fn on every local layer as a fenced write of keys.
func (c *core) forLocal(keys []string, fn func(l *layerState) error) {
	if len(keys) == 0 {
		return
	}
	c.fences.writeMany(keys, func() {
		for i := range c.layers {
			l := &c.layers[i]
			if l.info.Shared {
				continue
			}
			if err := fn(l); err != nil {
				_ = c.layerErr(l, "bus-apply", "", err)
			}
		}
	})
	for _, k := range keys {
		c.flight.Forget(k)
	}
}

// dropLocal clears every local layer.
func (c *core) dropLocal(ctx context.Context) {
	var errs []error
	c.fences.clearAll(func() {
		for i := range c.layers {
			l := &c.layers[i]
			if !l.info.Shared {
				errs = append(errs, l.Clear(ctx))
			}
		}
	})
	c.flight.ForgetAll()
	if err := errors.Join(errs...); err != nil && c.events.active() {
		c.events.emit(Event{Type: EventError, Err: fmt.Errorf("cache: drop local layers: %w", err)})
	}
}
