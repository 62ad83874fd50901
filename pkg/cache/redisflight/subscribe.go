package redisflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// muxPingEvery is how long the shared subscription may stay silent
	// before it pings Redis, to keep idle connections alive and find dead
	// ones.
	muxPingEvery = 5 * time.Second
	// Bounds of the pause between receive errors.
	minRetryPause = 50 * time.Millisecond
	maxRetryPause = time.Second
)

// Pub/sub only makes waiters faster: a waiter that misses a message (the
// connection dropped, a subscription was not yet active) still finds the
// result at its next lease check, which looks for the result first.

// subscription is one waiter's interest in a done channel.
type subscription struct {
	// wake receives (without blocking the sender; capacity 1) when a
	// message arrived on the channel or messages may have been lost.
	wake chan struct{}
	// ready is closed once Redis has confirmed the subscription: a
	// message published afterwards reaches wake.
	ready chan struct{}
	// release ends the subscription; it is idempotent.
	release func()
}

func newSubscription() *subscription {
	return &subscription{wake: make(chan struct{}, 1), ready: make(chan struct{})}
}

func (s *subscription) notify() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending; one is enough
	}
}

// subscriber hands out subscriptions to done channels.
type subscriber interface {
	subscribe(ctx context.Context, channel string) (*subscription, error)
	// close ends the subscriber's shared goroutines, if it has any.
	close() error
}

// newSubscriber picks the strategy for client: one shared connection, or
// one connection per wait on a Ring, whose shards do not share messages.
func newSubscriber(client redis.UniversalClient) subscriber {
	if r, ok := client.(*redis.Ring); ok {
		return &dedicated{ring: r}
	}
	return &mux{client: client}
}

// mux multiplexes every wait of a Coordinator over one PubSub connection,
// created on first use. Its receive goroutine runs until close.
//
// A subscription is ready when Redis answers a PING sent after its
// SUBSCRIBE: Redis handles one connection's commands in order. The PING
// has a payload of its own, so each waiter knows its answer.
type mux struct {
	client redis.UniversalClient

	mu     sync.Mutex                          // protects the fields below, and orders writes to ps
	ps     *redis.PubSub                       // nil until the first subscribe
	chans  map[string]map[*subscription]string // channel → its subscriptions → their ping payloads
	pings  map[string]*subscription            // ping payloads awaiting their answer
	seq    uint64                              // last ping payload number
	closed bool
	stop   chan struct{} // closed by close: ends the receive loop's pauses
	done   chan struct{} // closed when the receive loop has returned
}

func (m *mux) subscribe(ctx context.Context, channel string) (*subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if m.ps == nil {
		m.ps = m.client.Subscribe(ctx)
		m.chans = make(map[string]map[*subscription]string)
		m.pings = make(map[string]*subscription)
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.receive(m.ps)
	}
	subs := m.chans[channel]
	if subs == nil {
		if err := m.ps.Subscribe(ctx, channel); err != nil {
			// go-redis remembers the channel even when the command failed;
			// make it forget, so no reconnection resubscribes it.
			_ = m.ps.Unsubscribe(context.Background(), channel)
			return nil, err
		}
		subs = make(map[*subscription]string)
		m.chans[channel] = subs
	}
	s := newSubscription()
	m.seq++
	payload := "redisflight:" + strconv.FormatUint(m.seq, 10)
	subs[s] = payload
	m.pings[payload] = s
	if err := m.ps.Ping(ctx, payload); err != nil {
		m.dropLocked(channel, s)
		return nil, err
	}
	s.release = sync.OnceFunc(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.dropLocked(channel, s)
	})
	return s, nil
}

// dropLocked forgets s, and unsubscribes from the channel with its last
// waiter. m.mu must be held.
func (m *mux) dropLocked(channel string, s *subscription) {
	subs := m.chans[channel]
	delete(m.pings, subs[s])
	delete(subs, s)
	if len(subs) > 0 || m.closed {
		return
	}
	delete(m.chans, channel)
	// Best effort: should the UNSUBSCRIBE fail, the connection broke, and
	// go-redis does not resubscribe a channel it has forgotten.
	_ = m.ps.Unsubscribe(context.Background(), channel)
}

// receive dispatches what the shared connection receives until close.
func (m *mux) receive(ps *redis.PubSub) {
	defer close(m.done)
	ctx := context.Background()
	pause := minRetryPause
	for {
		msg, err := ps.ReceiveTimeout(ctx, muxPingEvery)
		if err != nil {
			if m.isClosed() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				_ = ps.Ping(ctx) // a failed write makes go-redis reconnect
				continue
			}
			// The connection failed; go-redis reconnects and resubscribes
			// on the next call. Messages may have been lost meanwhile.
			m.wakeAll()
			t := time.NewTimer(pause)
			select {
			case <-m.stop:
				t.Stop()
				return
			case <-t.C:
			}
			pause = min(2*pause, maxRetryPause)
			continue
		}
		pause = minRetryPause
		switch msg := msg.(type) {
		case *redis.Message:
			m.wakeChannel(msg.Channel)
		case *redis.Pong:
			m.confirm(msg.Payload)
		}
	}
}

func (m *mux) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

func (m *mux) wakeChannel(channel string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.chans[channel] {
		s.notify()
	}
}

func (m *mux) wakeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, subs := range m.chans {
		for s := range subs {
			s.notify()
		}
	}
}

func (m *mux) confirm(payload string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.pings[payload]; ok {
		delete(m.pings, payload)
		close(s.ready)
	}
}

func (m *mux) close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	ps, done := m.ps, m.done
	if ps != nil {
		close(m.stop)
	}
	m.mu.Unlock()
	if ps == nil {
		return nil
	}
	err := ps.Close()
	<-done
	return err
}

// dedicated gives each wait its own PubSub connection, to the Ring shard
// that owns the channel's hash tag (the shard that runs the key's scripts,
// and so publishes on it). Each subscription's receive goroutine ends with
// its release.
type dedicated struct {
	ring *redis.Ring
}

func (d *dedicated) subscribe(ctx context.Context, channel string) (*subscription, error) {
	ps, err := d.ringSubscribe(ctx, channel)
	if err != nil {
		return nil, err
	}
	s := newSubscription()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		pause := minRetryPause
		confirmed := false
		for {
			msg, err := ps.Receive(ctx)
			if err != nil {
				select {
				case <-stop:
					return
				default:
				}
				s.notify() // messages may have been lost
				t := time.NewTimer(pause)
				select {
				case <-stop:
					t.Stop()
					return
				case <-t.C:
				}
				pause = min(2*pause, maxRetryPause)
				continue
			}
			pause = minRetryPause
			switch msg.(type) {
			case *redis.Subscription:
				if !confirmed {
					confirmed = true
					close(s.ready)
				}
			case *redis.Message:
				s.notify()
			}
		}
	}()
	s.release = sync.OnceFunc(func() {
		close(stop)
		_ = ps.Close() // nothing is left to read on it
		<-done
	})
	return s, nil
}

// ringSubscribe is Ring.Subscribe, which panics when no shard is up
// (go-redis does not handle that case); the panic becomes an error.
func (d *dedicated) ringSubscribe(ctx context.Context, channel string) (ps *redis.PubSub, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ring subscribe: %v", r)
		}
	}()
	return d.ring.Subscribe(ctx, channel), nil
}

// close does nothing: each subscription ends with its wait, and the
// Coordinator refuses new waits once closed.
func (d *dedicated) close() error { return nil }
