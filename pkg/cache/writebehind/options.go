package writebehind

import (
	"fmt"
	"time"
)

// Defaults applied by New to zero-valued Options fields.
const (
	// DefaultBatchSize is Options.BatchSize when it is 0.
	DefaultBatchSize = 100
	// DefaultFlushInterval is Options.FlushInterval when it is 0.
	DefaultFlushInterval = 100 * time.Millisecond
	// DefaultMaxPending is Options.MaxPending when it is 0.
	DefaultMaxPending = 10_000
	// DefaultMaxRetries is Options.MaxRetries when it is 0.
	DefaultMaxRetries = 3
	// DefaultRetryBackoff is Options.RetryBackoff when it is 0.
	DefaultRetryBackoff = 100 * time.Millisecond
	// DefaultCloseTimeout is Options.CloseTimeout when it is 0.
	DefaultCloseTimeout = 10 * time.Second
)

// MaxRetryBackoff is the longest the flusher waits between two attempts of
// one batch, and the largest accepted Options.RetryBackoff.
const MaxRetryBackoff = 10 * time.Second

// FullPolicy says what a write does when Options.MaxPending writes are
// pending.
type FullPolicy uint8

const (
	// Block makes the write wait until the flusher has made room, or until
	// its context ends (the error then wraps the context's error). It is the
	// zero value.
	Block FullPolicy = iota
	// Reject makes the write fail at once with an error wrapping
	// ErrQueueFull.
	Reject
)

// String returns "block" or "reject".
func (p FullPolicy) String() string {
	switch p {
	case Block:
		return "block"
	case Reject:
		return "reject"
	default:
		return fmt.Sprintf("FullPolicy(%d)", uint8(p))
	}
}

// Clock is a source of time for a Layer.
type Clock interface {
	// NowNano returns the current time as Unix nanoseconds, the unit of
	// cache.Entry deadlines. It must be safe for concurrent use.
	NowNano() int64
}

// Options configures a Layer. The zero value is valid: batches of 100,
// flushed at least every 100 ms, at most 10,000 pending writes (writers
// block when full), 3 retries starting 100 ms apart, and 10 s for Close to
// flush. New does not modify Options.
type Options struct {
	// BatchSize is how many queued writes make the flusher write a batch
	// without waiting for FlushInterval, and the most writes it hands to
	// the inner layer at once. It must not be negative nor exceed
	// MaxPending (after its default).
	//
	// default: 100
	BatchSize int

	// FlushInterval is the longest a queued write waits before the flusher
	// writes it: every FlushInterval the flusher writes everything queued.
	// A write can wait longer only while the flusher is busy with an
	// earlier batch (including its retries). It must not be negative and
	// must be 0 when Tick is set.
	//
	// default: 100 ms
	FlushInterval time.Duration

	// MaxPending bounds the writes queued or being written (one per key, as
	// writes of a queued key replace each other). When it is reached, a
	// write of a key not already queued does what OnFull says. It must not
	// be negative.
	//
	// default: 10_000
	MaxPending int

	// OnFull says what a write does when MaxPending writes are pending:
	// Block (wait for room, or for the write's context to end) or Reject
	// (fail with ErrQueueFull).
	//
	// default: Block
	OnFull FullPolicy

	// MaxRetries is how many times a failed batch is written again before
	// its writes are dropped. Retries cannot be turned off. It must not be
	// negative.
	//
	// default: 3
	MaxRetries int

	// RetryBackoff is the wait before the first retry of a batch; each
	// further retry waits twice as long as the one before, at most
	// MaxRetryBackoff. It must not be negative nor exceed MaxRetryBackoff.
	//
	// default: 100 ms
	RetryBackoff time.Duration

	// CloseTimeout bounds how long Close spends flushing. When it elapses,
	// the write in progress is cancelled and the writes left are dropped
	// (see ErrCloseTimeout). It must not be negative.
	//
	// default: 10 s
	CloseTimeout time.Duration

	// OnError is called with the keys of writes that were dropped and an
	// error wrapping ErrDropped and the cause. It runs on the flusher
	// goroutine, so the next batch waits for it: it must return quickly and
	// must not call the Layer's methods (Flush and Close would deadlock,
	// and a Set could wait for room only the flusher can make). The caller
	// owns keys. A panic in OnError is not recovered.
	//
	// default: nil (drops are still counted in Stats and returned by Flush
	// and Close)
	OnError func(keys []string, err error)

	// Clock decides whether a queued entry has expired (a queued entry
	// whose Entry.ExpiresAt has passed is not returned by reads). It exists
	// to make that testable.
	//
	// default: the system clock
	Clock Clock

	// Tick, when set, replaces the FlushInterval timer: the flusher writes
	// everything queued each time it receives from Tick, and never on a
	// timer. It exists so tests can trigger interval flushes without
	// waiting. After Tick is closed, no interval flushes happen.
	//
	// default: nil (a time.Ticker firing every FlushInterval)
	Tick <-chan time.Time
}

// config is Options after defaults and validation.
type config struct {
	batchSize     int
	flushInterval time.Duration
	maxPending    int
	onFull        FullPolicy
	maxRetries    int
	retryBackoff  time.Duration
	closeTimeout  time.Duration
	onError       func(keys []string, err error)
	clock         Clock // never nil
	tick          <-chan time.Time
}

// resolve applies defaults and validates o. It never adjusts a value the
// caller set; an invalid one is an error naming the field.
func (o *Options) resolve() (config, error) {
	c := config{
		batchSize:     o.BatchSize,
		flushInterval: o.FlushInterval,
		maxPending:    o.MaxPending,
		onFull:        o.OnFull,
		maxRetries:    o.MaxRetries,
		retryBackoff:  o.RetryBackoff,
		closeTimeout:  o.CloseTimeout,
		onError:       o.OnError,
		clock:         o.Clock,
		tick:          o.Tick,
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"BatchSize", &c.batchSize, DefaultBatchSize},
		{"MaxPending", &c.maxPending, DefaultMaxPending},
		{"MaxRetries", &c.maxRetries, DefaultMaxRetries},
	} {
		if *f.v < 0 {
			return config{}, fmt.Errorf("writebehind layer: Options.%s must not be negative, got %d", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"FlushInterval", &c.flushInterval, DefaultFlushInterval},
		{"RetryBackoff", &c.retryBackoff, DefaultRetryBackoff},
		{"CloseTimeout", &c.closeTimeout, DefaultCloseTimeout},
	} {
		if *f.v < 0 {
			return config{}, fmt.Errorf("writebehind layer: Options.%s must not be negative, got %s", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.tick != nil && o.FlushInterval != 0 {
		return config{}, fmt.Errorf("writebehind layer: Options.FlushInterval (%s) and Options.Tick are both set; Tick replaces the interval",
			o.FlushInterval)
	}
	if c.batchSize > c.maxPending {
		return config{}, fmt.Errorf("writebehind layer: Options.BatchSize (%d) must not exceed Options.MaxPending (%d)",
			c.batchSize, c.maxPending)
	}
	if c.retryBackoff > MaxRetryBackoff {
		return config{}, fmt.Errorf("writebehind layer: Options.RetryBackoff (%s) must not exceed MaxRetryBackoff (%s)",
			c.retryBackoff, MaxRetryBackoff)
	}
	if c.onFull != Block && c.onFull != Reject {
		return config{}, fmt.Errorf("writebehind layer: Options.OnFull %s is not Block or Reject", c.onFull)
	}
	if c.clock == nil {
		c.clock = systemClock{}
	}
	return c, nil
}

// backoff is the wait before retry number n (1 for the first retry).
func (c *config) backoff(n int) time.Duration {
	d := c.retryBackoff
	for i := 1; i < n && d < MaxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, MaxRetryBackoff)
}

// systemClock reads the system time.
type systemClock struct{}

func (systemClock) NowNano() int64 { return time.Now().UnixNano() }
