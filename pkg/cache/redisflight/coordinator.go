package redisflight

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

var _ cache.Coordinator = (*Coordinator)(nil)

// Coordinator runs at most one fetch per key across every process that
// shares its Redis and Prefix. It is safe for concurrent use. Close it when
// done to stop its shared subscription.
type Coordinator struct {
	cfg  config
	subs subscriber

	closing   chan struct{} // closed by Close
	closeOnce sync.Once
	closeErr  error

	hooks hooks // nil functions in production
}

// hooks let the package's tests pause a Do at the points where races
// happen. They are set only by export_test.go, before the first Do.
type hooks struct {
	// observedLeader is called when Do found another instance's lease,
	// before it subscribes to the done channel.
	observedLeader func(key string)
	// waiting is called when a waiter is about to block for the first
	// time: it is subscribed and found no acceptable result.
	waiting func(key string)
}

// New validates opts and returns a Coordinator. It sends nothing to Redis
// and starts no goroutine: the shared subscription starts with the first
// wait.
func New(opts Options) (*Coordinator, error) {
	cfg, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	return &Coordinator{cfg: cfg, subs: newSubscriber(cfg.Client), closing: make(chan struct{})}, nil
}

// Close stops the shared subscription and waits for its goroutine. Do
// calls still waiting return ErrClosed, and later ones fail with it;
// leaders already fetching finish normally. Close does not close
// Options.Client. It is idempotent.
func (c *Coordinator) Close() error {
	c.closeOnce.Do(func() {
		close(c.closing)
		c.closeErr = c.subs.close()
	})
	return c.closeErr
}

// Do runs fetch if this call wins the key's lease, and hands its Result to
// every call waiting on the key in any process; otherwise it waits for the
// leader's Result and returns it (fetch is not called). A Result with Err
// set is a successful coordination of a failed fetch: Do's error is for
// failures of the coordination itself.
//
// As leader, Do calls fetch with ctx, renews the lease while fetch runs,
// and returns fetch's Result as it is, whatever happens in Redis
// afterwards. If ctx has ended when fetch returns with Err set, the
// leadership is abandoned: nothing is published, the lease is released so
// that a waiter takes over at once, and Do returns ctx's error. If fetch
// panics, the waiters receive a Result whose Err says so, and the panic
// continues in Do's caller.
//
// As waiter, Do returns when the leader's Result arrives; when ctx ends
// (ctx's error); after Options.WaitTimeout (*WaitTimeoutError); or on
// Close (ErrClosed). When the leader's lease disappears without a Result
// (the leader died or gave up), the waiter tries to become leader itself.
// When the leader's Result was too large to transfer (Options.MaxResultBytes),
// the waiter calls fetch itself, without coordination.
//
// The Payload returned belongs to the caller. key must satisfy
// cache.ValidateKey.
func (c *Coordinator) Do(ctx context.Context, key string, fetch func(ctx context.Context) cache.Result) (cache.Result, error) {
	if err := cache.ValidateKey(key); err != nil {
		return cache.Result{}, fmt.Errorf("redisflight: %w", err)
	}
	select {
	case <-c.closing:
		return cache.Result{}, ErrClosed
	default:
	}
	n := namesFor(c.cfg.Prefix, key)
	// 128 random bits (rand.Text) tell this call's lease from every other.
	token := rand.Text()
	r, err := c.claim(ctx, n, token, "")
	if err != nil {
		return cache.Result{}, fmt.Errorf("redisflight: claim %q: %w", key, err)
	}
	if r.outcome == claimLed {
		return c.lead(ctx, key, n, r.value, fetch)
	}
	return c.wait(ctx, key, n, token, fenceOf(r.value), fetch)
}

// wait waits for the result of the flight whose lease had the fencing
// token minFence (or of a later one), taking over when the lease
// disappears without a result.
func (c *Coordinator) wait(ctx context.Context, key string, n names, token, minFence string,
	fetch func(context.Context) cache.Result,
) (cache.Result, error) {
	if h := c.hooks.observedLeader; h != nil {
		h(key)
	}
	// Subscribe first, then look: a result announced in between is found
	// by the look, one announced later arrives as a message.
	sub, err := c.subs.subscribe(ctx, n.done)
	if err != nil {
		return cache.Result{}, fmt.Errorf("redisflight: subscribe for %q: %w", key, err)
	}
	defer sub.release()

	timeout := time.NewTimer(c.cfg.WaitTimeout)
	defer timeout.Stop()
	poll := time.NewTicker(c.cfg.pollEvery)
	defer poll.Stop()
	ready, first := sub.ready, true
	for {
		if ready != nil {
			// Until Redis confirms the subscription, a message could be
			// missed, so wait for the confirmation before the first look
			// (a missed message would only cost one poll interval).
			if err := c.block(ctx, key, ready, sub.wake, poll.C, timeout.C); err != nil {
				return cache.Result{}, err
			}
			ready = nil
		}
		r, err := c.claim(ctx, n, token, minFence)
		if err != nil {
			return cache.Result{}, fmt.Errorf("redisflight: wait for %q: %w", key, err)
		}
		switch r.outcome {
		case claimLed:
			sub.release() // not needed while fetching
			return c.lead(ctx, key, n, r.value, fetch)
		case claimResult:
			rec, err := decodeRecord(r.value)
			if err != nil {
				return cache.Result{}, fmt.Errorf("redisflight: result of %q: %w", key, err)
			}
			if rec.tooLarge {
				sub.release()
				return fetch(ctx), nil
			}
			return rec.result, nil
		}
		if first {
			first = false
			if h := c.hooks.waiting; h != nil {
				h(key)
			}
		}
		if err := c.block(ctx, key, nil, sub.wake, poll.C, timeout.C); err != nil {
			return cache.Result{}, err
		}
	}
}

// block waits for any of ready (nil: never), wake or poll, and turns the
// end of ctx, the wait timeout and Close into errors.
func (c *Coordinator) block(ctx context.Context, key string, ready <-chan struct{},
	wake <-chan struct{}, poll, timeout <-chan time.Time,
) error {
	select {
	case <-ready:
	case <-wake:
	case <-poll:
	case <-timeout:
		return &WaitTimeoutError{Key: key, Wait: c.cfg.WaitTimeout}
	case <-ctx.Done():
		return fmt.Errorf("redisflight: wait for %q: %w", key, context.Cause(ctx))
	case <-c.closing:
		return ErrClosed
	}
	return nil
}
