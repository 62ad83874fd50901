package redisbus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache"
)

var _ cache.InvalidationBus = (*Bus)(nil)

// Bus is a cache.InvalidationBus on one Redis pub/sub channel. Create it
// with New; the zero Bus is not usable. It is safe for concurrent use.
type Bus struct {
	cfg   config
	stats counters

	mu          sync.Mutex // protects the fields below
	closed      bool
	subscribing bool               // Subscribe is running or has succeeded
	ps          *redis.PubSub      // the live subscription; nil before Subscribe
	cancel      context.CancelFunc // ends the receive goroutine's context; nil before it starts
	done        chan struct{}      // closed when the receive goroutine has returned; nil before it starts
}

// New returns a Bus on opts.Client. It validates opts and returns an error
// naming the first invalid field; it neither modifies opts nor talks to
// Redis (Subscribe does).
func New(opts Options) (*Bus, error) {
	cfg, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	return &Bus{cfg: cfg}, nil
}

// InstanceID returns the ID this bus puts on its messages
// (Options.InstanceID, or the random one New chose).
func (b *Bus) InstanceID() string { return b.cfg.InstanceID }

// Channel returns the pub/sub channel of the bus (Options.Channel, or
// DefaultChannel).
func (b *Bus) Channel() string { return b.cfg.Channel }

// Publish sends m to every other bus subscribed to the channel, signed when
// the bus has a Secret. It works with or without a subscription of this
// bus. It returns when Redis has accepted the message, which says nothing
// about who received it (see the package doc on delivery).
//
// A delete, expire or write message without keys is not sent: it would
// invalidate nothing. Keys that do not fit in one message of
// Options.MaxMessageBytes are sent in several messages, each with the
// same Kind, Prefix and Generation and a share of the keys, in order; if
// one of them fails, the error says how many were sent before. A key (or,
// for clear and generation messages, a Prefix) too long for any message
// is an error wrapping cache.ErrTooLarge, and nothing is sent. Clear and
// generation messages must have no keys.
//
// Publish does not keep m.Keys after it returns. ctx bounds the PUBLISH
// commands.
func (b *Bus) Publish(ctx context.Context, m cache.BusMessage) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	switch {
	case !validKind(m.Kind):
		return fmt.Errorf("redisbus: publish: unknown kind %d", m.Kind)
	case hasKeys(m.Kind) && len(m.Keys) == 0:
		return nil
	case !hasKeys(m.Kind) && len(m.Keys) != 0:
		return fmt.Errorf("redisbus: publish: a %s message carries no keys, got %d", m.Kind, len(m.Keys))
	}
	chunks, err := b.split(&m)
	if err != nil {
		return err
	}
	for i, keys := range chunks {
		f := frame{
			sender: b.cfg.InstanceID,
			ts:     b.cfg.Now().UnixMilli(),
			msg:    cache.BusMessage{Kind: m.Kind, Keys: keys, Prefix: m.Prefix, Generation: m.Generation},
		}
		_, _ = rand.Read(f.id[:]) // never fails: crypto/rand crashes the program instead
		payload := encode(nil, &f, b.cfg.secret, b.cfg.Channel)
		if err := b.cfg.Client.Publish(ctx, b.cfg.Channel, payload).Err(); err != nil {
			if len(chunks) == 1 {
				return fmt.Errorf("redisbus: publish %s to %q: %w", m.Kind, b.cfg.Channel, err)
			}
			return fmt.Errorf("redisbus: publish %s to %q: part %d of %d (%d sent): %w",
				m.Kind, b.cfg.Channel, i+1, len(chunks), i, err)
		}
		b.stats.published.Add(1)
	}
	return nil
}

// split divides m's keys into runs that fit in one message each. A message
// without keys is one run of none.
func (b *Bus) split(m *cache.BusMessage) ([][]string, error) {
	limit := b.cfg.MaxMessageBytes
	base := overhead(b.cfg.InstanceID, m, len(m.Keys), b.cfg.secret != nil)
	if base > limit {
		return nil, fmt.Errorf("redisbus: publish %s: a message with a prefix of %d bytes exceeds Options.MaxMessageBytes (%d): %w",
			m.Kind, len(m.Prefix), limit, cache.ErrTooLarge)
	}
	if len(m.Keys) == 0 {
		return [][]string{nil}, nil
	}
	var chunks [][]string
	start, size := 0, base
	for i, k := range m.Keys {
		n := strLen(k)
		if base+n > limit {
			return nil, fmt.Errorf("redisbus: publish %s: key %d of %d bytes does not fit in Options.MaxMessageBytes (%d): %w",
				m.Kind, i, len(k), limit, cache.ErrTooLarge)
		}
		if size+n > limit {
			chunks = append(chunks, m.Keys[start:i])
			start, size = i, base
		}
		size += n
	}
	return append(chunks, m.Keys[start:]), nil
}

// Close stops delivery and releases the subscription. It cancels the
// receive goroutine's context and closes the PubSub (which interrupts a
// read blocked on the connection), then waits until the goroutine has
// returned, so no handler call is running or will start once Close
// returns. A connection attempt in progress (after Redis went away) is not
// interrupted, so Close may wait for it, at most the client's DialTimeout
// plus ReadTimeout. Close must not be called from the handler or from
// Options.OnError, which run on that goroutine. The client is not closed: it belongs to the
// caller. Later calls return nil; Publish and Subscribe return ErrClosed.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	ps, cancel, done := b.ps, b.cancel, b.done
	b.mu.Unlock()

	if cancel != nil {
		cancel()
	}
	var err error
	if ps != nil {
		if err = ps.Close(); errors.Is(err, redis.ErrClosed) {
			err = nil
		}
	}
	if done != nil {
		<-done
	}
	if err != nil {
		return fmt.Errorf("redisbus: close subscription: %w", err)
	}
	return nil
}
