package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"

	"github.com/layercache/layercache/internal/xlist"
)

// Limiter admits calls per named bucket: at most Rate per second on
// average (Burst at once), at most MaxConcurrent in flight, with at most
// MaxQueue callers waiting. Make one with New; the zero Limiter is not
// usable. A Limiter is safe for concurrent use and must not be copied.
type Limiter struct {
	cfg config

	mu   sync.Mutex                  // protects m, the idle list and the counts of every bucket in m
	m    map[string]*bucket          // every bucket
	idle xlist.List[bucket, *bucket] // idle buckets, most recently used first

	admitted, rejected, bypassed, canceled atomic.Uint64
	waiting                                atomic.Int64
}

// bucket is the state of one bucket name. lim and slots are set at
// creation; the other fields are guarded by Limiter.mu.
type bucket struct {
	key   string
	lim   *rate.Limiter // nil when Rate is infinite
	slots chan struct{} // a send takes a slot; nil when MaxConcurrent is 0

	waiting             int // callers in Acquire not yet admitted
	active              int // callers admitted and not yet released
	xlist.Links[bucket]     // links in the idle list, while waiting and active are 0
}

func (b *bucket) idle() bool { return b.waiting == 0 && b.active == 0 }

// New returns a Limiter configured by opts. It returns an error naming the
// field when a value is invalid; it does not modify opts.
func New(opts Options) (*Limiter, error) {
	cfg, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	return &Limiter{cfg: cfg, m: make(map[string]*bucket)}, nil
}

// noRelease is the release function of a bypassed call.
func noRelease() {}

// Acquire waits until a call in bucket may start: until it has a
// concurrency slot (when MaxConcurrent is set) and then a token. A caller
// that finds nobody waiting in its bucket, a free slot and a token is
// admitted without waiting and without allocating a timer. It returns
// a release function that the caller must call once the call has ended,
// to free the slot; calling it again does nothing. release is safe to call
// from any goroutine; calling it in a defer frees the slot even when the
// call panics.
//
// A caller that finds MaxQueue others waiting in its bucket, or that needs
// a new bucket when MaxBuckets buckets are all busy, overflows: with
// Options.Overflow Reject (the default) Acquire returns a *LimitedError at
// once (errors.Is(err, ErrLimited)); with Bypass it returns at once with a
// release that does nothing, and the call counts in Stats.Bypassed only.
//
// If ctx ends while the caller waits, or its deadline comes before the
// caller's token would, Acquire returns at once with an error wrapping
// ctx.Err() (context.DeadlineExceeded in the second case), gives back its
// token and slot, and leaves the queue. An already ended ctx is refused
// before anything is taken. Waiting spawns no goroutine.
//
// Buckets are opaque names; see the package documentation for the names
// the cache uses.
func (l *Limiter) Acquire(ctx context.Context, bucket string) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		l.canceled.Add(1)
		return nil, fmt.Errorf("ratelimit: bucket %q: %w", bucket, err)
	}
	b, admitted, reason := l.enter(bucket)
	if reason != 0 {
		return l.overflow(bucket, reason)
	}
	if !admitted {
		if err := l.queue(ctx, b); err != nil {
			l.canceled.Add(1)
			return nil, fmt.Errorf("ratelimit: bucket %q: %w", bucket, err)
		}
	}
	l.admitted.Add(1)
	var released atomic.Bool
	return func() {
		if released.CompareAndSwap(false, true) {
			l.release(b)
		}
	}, nil
}

// enter finds or makes the bucket named key. If nobody waits in it and it
// has a free slot and a token, it admits the caller at once; otherwise it
// counts the caller as waiting, or returns why it cannot.
func (l *Limiter) enter(key string) (b *bucket, admitted bool, reason Reason) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b = l.m[key]
	if b == nil {
		if len(l.m) >= l.cfg.maxBuckets {
			victim := l.idle.Back()
			if victim == nil {
				return nil, false, BucketsFull
			}
			l.idle.Remove(victim)
			delete(l.m, victim.key)
		}
		b = &bucket{key: key}
		if l.cfg.limit != rate.Inf {
			b.lim = rate.NewLimiter(l.cfg.limit, l.cfg.burst)
		}
		if l.cfg.maxConcurrent > 0 {
			b.slots = make(chan struct{}, l.cfg.maxConcurrent)
		}
		l.m[key] = b
	} else if b.idle() {
		l.idle.Remove(b)
	}
	// Callers already waiting go first: a newcomer is admitted at once
	// only when nobody waits.
	if b.waiting == 0 && b.tryTake() {
		b.active++
		return b, true, 0
	}
	if b.waiting >= l.cfg.maxQueue {
		return nil, false, QueueFull
	}
	b.waiting++
	return b, false, 0
}

// tryTake takes a slot and a token of b if both are there now, without
// waiting.
func (b *bucket) tryTake() bool {
	if b.slots != nil {
		select {
		case b.slots <- struct{}{}:
		default:
			return false
		}
	}
	if b.lim != nil && !b.lim.Allow() {
		if b.slots != nil {
			<-b.slots
		}
		return false
	}
	return true
}

// queue waits, as one of b's waiting callers, for a slot and a token.
func (l *Limiter) queue(ctx context.Context, b *bucket) error {
	l.waiting.Add(1)
	err := l.wait(ctx, b)
	l.waiting.Add(-1)

	l.mu.Lock()
	defer l.mu.Unlock()
	b.waiting--
	if err == nil {
		b.active++
	} else if b.idle() {
		l.idle.PushFront(b)
	}
	return err
}

// wait takes a slot and then a token of b, honouring ctx.
func (l *Limiter) wait(ctx context.Context, b *bucket) error {
	if b.slots != nil {
		select {
		case b.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if b.lim == nil {
		return nil
	}
	if err := b.lim.Wait(ctx); err != nil {
		if b.slots != nil {
			<-b.slots
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Burst is at least 1, so the only other failure is a token
		// that would come after ctx's deadline.
		return fmt.Errorf("no token before the context's deadline: %w", context.DeadlineExceeded)
	}
	return nil
}

// release frees the slot of an admitted call of b.
func (l *Limiter) release(b *bucket) {
	if b.slots != nil {
		<-b.slots
	}
	l.mu.Lock()
	b.active--
	if b.idle() {
		l.idle.PushFront(b)
	}
	l.mu.Unlock()
}

func (l *Limiter) overflow(bucket string, reason Reason) (func(), error) {
	if l.cfg.overflow == Bypass {
		l.bypassed.Add(1)
		return noRelease, nil
	}
	l.rejected.Add(1)
	limit := l.cfg.maxQueue
	if reason == BucketsFull {
		limit = l.cfg.maxBuckets
	}
	return nil, &LimitedError{Bucket: bucket, Reason: reason, Limit: limit}
}

// Stats is a snapshot of a Limiter's counters.
type Stats struct {
	// Admitted counts calls that got a token (and a slot).
	Admitted uint64
	// Rejected counts calls refused with a *LimitedError.
	Rejected uint64
	// Bypassed counts calls let through uncounted on overflow.
	Bypassed uint64
	// Canceled counts calls that gave up because their context ended, or
	// would have ended, before their turn.
	Canceled uint64
	// Waiting is how many callers wait now, in all buckets.
	Waiting int
	// Buckets is how many buckets exist now.
	Buckets int
}

// Stats returns the Limiter's counters.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	n := len(l.m)
	l.mu.Unlock()
	return Stats{
		Admitted: l.admitted.Load(),
		Rejected: l.rejected.Load(),
		Bypassed: l.bypassed.Load(),
		Canceled: l.canceled.Load(),
		Waiting:  int(l.waiting.Load()),
		Buckets:  n,
	}
}
