package agent

import (
	"context"
	"sync"

	"github.com/layercache/layercache/pkg/cache"
)

// localBus is the Stack's invalidation bus as the agent sees it. It
// forwards to the real bus (pkg/cache/redisbus) when the policy has one,
// and it keeps the handler the Stack subscribes with: that handler applies
// a message to the Stack's local (non-shared) layers only, as a fenced
// write that supersedes fetches in flight. The agent sends it messages of
// its own to invalidate the local tiers without touching Redis.
//
// Without a real bus, Publish succeeds without sending anything, so the
// Stack's BusPublished counter counts its invalidation messages and
// BusReceived counts the agent's local invalidations.
type localBus struct {
	inner cache.InvalidationBus // nil: no real bus

	mu      sync.Mutex // protects handler
	handler cache.BusHandler
}

var _ cache.InvalidationBus = (*localBus)(nil)

func (b *localBus) Publish(ctx context.Context, m cache.BusMessage) error {
	if b.inner == nil {
		return nil
	}
	return b.inner.Publish(ctx, m)
}

// Subscribe keeps h, then subscribes it to the real bus. h is kept even if
// that fails: the Stack retries the subscription, and local invalidations
// need no bus.
func (b *localBus) Subscribe(ctx context.Context, h cache.BusHandler) error {
	b.mu.Lock()
	b.handler = h
	b.mu.Unlock()
	if b.inner == nil {
		return nil
	}
	return b.inner.Subscribe(ctx, h)
}

func (b *localBus) Close() error {
	if b.inner == nil {
		return nil
	}
	return b.inner.Close()
}

// apply applies m to the local layers. It does nothing before the Stack
// subscribed, which cache.New does before it returns.
func (b *localBus) apply(m cache.BusMessage) {
	b.mu.Lock()
	h := b.handler
	b.mu.Unlock()
	if h != nil {
		h.OnMessage(m)
	}
}
