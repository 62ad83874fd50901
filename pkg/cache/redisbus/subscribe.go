package redisbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache"
)

// Bounds of the wait between attempts while the subscription's connection
// cannot be restored. The wait doubles from the first to the second.
const (
	minRetryWait = 10 * time.Millisecond
	maxRetryWait = time.Second
)

// Subscribe subscribes to the channel and waits for Redis to confirm it, so
// every message published after Subscribe returns reaches h (while the
// connection holds; see the package doc). It then starts the bus's one
// receive goroutine, which calls h.OnMessage for each valid message from
// another instance and h.OnReconnect after each restored connection, one
// call at a time, until Close.
//
// ctx bounds the subscription; cancelling it later does not stop delivery
// (Close does). A failed subscription is returned as an error and leaves
// the bus as it was, so the caller may retry. A second Subscribe, while one
// runs or after one succeeded, returns ErrSubscribed; after Close,
// ErrClosed.
func (b *Bus) Subscribe(ctx context.Context, h cache.BusHandler) error {
	if h == nil {
		return errors.New("redisbus: subscribe: nil handler")
	}
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return ErrClosed
	case b.subscribing:
		b.mu.Unlock()
		return ErrSubscribed
	}
	b.subscribing = true
	ps := b.cfg.Client.Subscribe(ctx) // no channel yet: nothing is sent
	b.ps = ps                         // so that a concurrent Close interrupts the wait below
	b.mu.Unlock()

	err := b.confirm(ctx, ps)

	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed: // Close has closed ps
		return ErrClosed
	case err != nil:
		b.ps, b.subscribing = nil, false
		_ = ps.Close() // the subscription error is the one that matters
		return err
	}
	// The goroutine outlives this call: its context keeps ctx's values
	// but not its cancellation, and ends at Close.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	b.cancel, b.done = cancel, make(chan struct{})
	go b.receive(runCtx, ps, h, b.done)
	return nil
}

// confirm subscribes ps to the channel and reads until Redis confirms the
// subscription. Cancelling ctx closes ps, which interrupts the read.
func (b *Bus) confirm(ctx context.Context, ps *redis.PubSub) error {
	ch := b.cfg.Channel
	if err := ps.Subscribe(ctx, ch); err != nil {
		return fmt.Errorf("redisbus: subscribe %q: %w", ch, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			stop()
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			return fmt.Errorf("redisbus: subscribe %q: waiting for confirmation: %w", ch, err)
		}
		// Nothing but the confirmation (or a stray PONG) can come first.
		if s, ok := msg.(*redis.Subscription); ok && s.Kind == "subscribe" && s.Channel == ch {
			break
		}
	}
	if !stop() { // ctx ended just as the confirmation came: ps is closed
		return fmt.Errorf("redisbus: subscribe %q: %w", ch, context.Cause(ctx))
	}
	return nil
}

// receive is the bus's goroutine. It reads ps until ctx ends (Close), and
// watches the connection:
//
//   - go-redis restores a broken connection by itself on the next read and
//     subscribes again on the new one. Redis confirms every SUBSCRIBE, and
//     Subscribe has consumed the first confirmation, so each confirmation
//     read here means a new connection, on which messages published while
//     none was subscribed are lost: the handler's OnReconnect.
//   - A connection can also die silently (a half-open TCP connection, a
//     frozen server). After HealthCheckInterval without traffic the bus
//     sends a PING; with no answer after another interval, it replaces the
//     PubSub, whose confirmation is then reported like the one above.
func (b *Bus) receive(ctx context.Context, ps *redis.PubSub, h cache.BusHandler, done chan<- struct{}) {
	defer close(done)
	rf := newReplayFilter(b.cfg.MaxRememberedIDs)
	var (
		pinged bool          // a PING was sent and nothing has been read since
		wait   time.Duration // before the next read after a failure; 0 after a success
	)
	for {
		msg, err := ps.ReceiveTimeout(ctx, b.cfg.HealthCheckInterval)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && isTimeout(err) && !pinged:
			pinged = true
			if err := ps.Ping(ctx); err != nil { // a failed write makes go-redis reconnect
				b.cfg.OnError(fmt.Errorf("redisbus: health check PING: %w", err))
			}
			continue
		case err != nil && isTimeout(err):
			b.cfg.OnError(fmt.Errorf("redisbus: no answer to PING within %s, replacing the connection", b.cfg.HealthCheckInterval))
			if ps = b.replace(ctx, ps); ps == nil {
				return
			}
			pinged = false
			continue
		case err != nil:
			pinged = false // the next connection starts afresh
			b.cfg.OnError(fmt.Errorf("redisbus: receive from %q: %w", b.cfg.Channel, err))
			wait = min(max(2*wait, minRetryWait), maxRetryWait)
			if !sleep(ctx, wait) {
				return
			}
			continue
		}
		pinged, wait = false, 0
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == b.cfg.Channel {
				b.stats.reconnects.Add(1)
				b.call(h.OnReconnect)
			}
		case *redis.Message:
			b.handle(rf, h, m.Payload)
		}
	}
}

// replace closes old and returns a new PubSub on the channel, or nil when
// the bus was closed meanwhile. A failure to connect is reported; the next
// read retries it.
func (b *Bus) replace(ctx context.Context, old *redis.PubSub) *redis.PubSub {
	ps := b.cfg.Client.Subscribe(ctx) // no channel yet: nothing is sent
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		_ = ps.Close() // never connected
		return nil
	}
	b.ps = ps
	b.mu.Unlock()
	_ = old.Close() // the connection is presumed dead; its close error tells nothing
	if err := ps.Subscribe(ctx, b.cfg.Channel); err != nil {
		b.cfg.OnError(fmt.Errorf("redisbus: resubscribe %q: %w", b.cfg.Channel, err))
	}
	return ps
}

// handle checks one payload and delivers it to h, counting the outcome.
func (b *Bus) handle(rf *replayFilter, h cache.BusHandler, payload string) {
	b.stats.received.Add(1)
	m, dropped, err := b.check(rf, payload)
	if dropped != nil {
		dropped.Add(1)
		if err != nil {
			b.cfg.OnError(err)
		}
		return
	}
	b.stats.delivered.Add(1)
	b.call(func() { h.OnMessage(m) })
}

// check decodes and verifies payload. A message to drop comes back with the
// counter to increment and, unless it is the bus's own, the reason.
func (b *Bus) check(rf *replayFilter, payload string) (cache.BusMessage, *atomic.Uint64, error) {
	c := &b.stats
	if len(payload) > b.cfg.MaxMessageBytes {
		return cache.BusMessage{}, &c.oversized, fmt.Errorf("redisbus: message of %d bytes exceeds Options.MaxMessageBytes (%d): %w",
			len(payload), b.cfg.MaxMessageBytes, cache.ErrTooLarge)
	}
	f, body, mac, err := decode([]byte(payload))
	if err != nil {
		return cache.BusMessage{}, &c.malformed, err
	}
	secret := b.cfg.secret
	if secret != nil {
		// Verify before anything else is believed, the sender included.
		if !f.signed {
			return cache.BusMessage{}, &c.unsigned, fmt.Errorf("%w from sender %q", ErrUnsigned, f.sender)
		}
		if !verify(secret, b.cfg.Channel, body, mac) {
			return cache.BusMessage{}, &c.badSig, fmt.Errorf("%w: message claims sender %q", ErrBadSignature, f.sender)
		}
	}
	if f.sender == b.cfg.InstanceID {
		return cache.BusMessage{}, &c.own, nil
	}
	if secret != nil {
		now, skew := b.cfg.Now().UnixMilli(), b.cfg.MaxSkew.Milliseconds()
		if f.ts < now-skew || f.ts > now+skew {
			return cache.BusMessage{}, &c.stale, fmt.Errorf("%w: sent at %s by %q, %s from now exceeds Options.MaxSkew (%s)",
				ErrStale, time.UnixMilli(f.ts).UTC().Format(time.RFC3339Nano), f.sender,
				time.Duration(now-f.ts)*time.Millisecond, b.cfg.MaxSkew)
		}
		// After the skew check f.ts+skew cannot overflow.
		if rf.seenBefore(f.id, f.ts+skew, now) {
			return cache.BusMessage{}, &c.replay, fmt.Errorf("%w: ID %x from %q", ErrReplayed, f.id, f.sender)
		}
	}
	return f.msg, nil, nil
}

// call runs a handler method. A panic is recovered and reported, so one bad
// message does not end delivery for the whole process.
func (b *Bus) call(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			b.stats.panics.Add(1)
			b.cfg.OnError(fmt.Errorf("redisbus: handler panicked: %v\n%s", r, debug.Stack()))
		}
	}()
	fn()
}

// isTimeout reports whether err is a read deadline passing, which leaves
// the connection usable.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleep waits for d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
