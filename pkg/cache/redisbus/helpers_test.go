package redisbus_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisbus"
)

// waitLimit bounds every wait for something a test expects to happen.
const waitLimit = 15 * time.Second

// recorder is a cache.BusHandler that hands what it receives to the test.
type recorder struct {
	msgs       chan cache.BusMessage
	reconnects chan struct{}
}

func newRecorder() *recorder {
	return &recorder{msgs: make(chan cache.BusMessage, 4096), reconnects: make(chan struct{}, 64)}
}

func (r *recorder) OnMessage(m cache.BusMessage) { r.msgs <- m }
func (r *recorder) OnReconnect()                 { r.reconnects <- struct{}{} }

// errLog collects what a bus reports through Options.OnError.
type errLog struct {
	added chan struct{} // receives after each add, unless a signal is pending

	mu   sync.Mutex // protects errs
	errs []error
}

func newErrLog() *errLog { return &errLog{added: make(chan struct{}, 1)} }

func (l *errLog) add(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
	select {
	case l.added <- struct{}{}:
	default:
	}
}

// contains reports whether an error whose text contains substr was
// reported.
func (l *errLog) contains(substr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.errs {
		if strings.Contains(err.Error(), substr) {
			return true
		}
	}
	return false
}

// count returns how many reported errors wrap target.
func (l *errLog) count(target error) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, err := range l.errs {
		if errors.Is(err, target) {
			n++
		}
	}
	return n
}

func (l *errLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.errs)
}

// waitCtx returns a context for one wait of the test.
func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// receive returns the next value from ch, failing t if none comes in time.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-waitCtx(t).Done():
		var zero T
		t.Fatalf("no %s within %s", what, waitLimit)
		return zero
	}
}

// testChannel returns a channel name no other test uses.
func testChannel(t *testing.T) string {
	return redistest.Prefix(t) + "bus"
}

// newBus builds a bus and closes it when t ends.
func newBus(t *testing.T, opts redisbus.Options) *redisbus.Bus {
	t.Helper()
	b, err := redisbus.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// subscribe subscribes b with a fresh recorder.
func subscribe(t *testing.T, b *redisbus.Bus) *recorder {
	t.Helper()
	r := newRecorder()
	if err := b.Subscribe(waitCtx(t), r); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	return r
}

func publish(t *testing.T, b *redisbus.Bus, m cache.BusMessage) {
	t.Helper()
	if err := b.Publish(waitCtx(t), m); err != nil {
		t.Fatalf("Publish(%+v): %v", m, err)
	}
}

func publishRaw(t *testing.T, c redis.UniversalClient, channel string, payload []byte) {
	t.Helper()
	if err := c.Publish(waitCtx(t), channel, payload).Err(); err != nil {
		t.Fatalf("raw PUBLISH: %v", err)
	}
}

// expectMessage fails t unless the next message r receives is want.
func expectMessage(t *testing.T, r *recorder, want cache.BusMessage) {
	t.Helper()
	got := receive(t, r.msgs, "message "+want.Kind.String())
	if !equalMessage(got, want) {
		t.Fatalf("received %+v, want %+v", got, want)
	}
}

func equalMessage(a, b cache.BusMessage) bool {
	return a.Kind == b.Kind && a.Prefix == b.Prefix && a.Generation == b.Generation &&
		len(a.Keys) == len(b.Keys) && (len(a.Keys) == 0 || slices.Equal(a.Keys, b.Keys))
}

// barrier publishes a uniquely keyed delete from b and waits until r
// receives it. Messages reach a subscriber in the order Redis received them,
// so everything published before has been handled (delivered, or dropped
// and counted) when barrier returns; a message published before that r
// delivers first fails t.
func barrier(t *testing.T, b *redisbus.Bus, r *recorder) {
	t.Helper()
	m := cache.BusMessage{Kind: cache.BusDelete, Keys: []string{"barrier:" + rand.Text()}}
	publish(t, b, m)
	expectMessage(t, r, m)
}

// wire returns a well-formed message from sender, sent now.
func wire(sender string, m cache.BusMessage) redisbus.Wire {
	w := redisbus.Wire{Sender: sender, Time: time.Now(), Msg: m}
	_, _ = rand.Read(w.ID[:])
	return w
}
