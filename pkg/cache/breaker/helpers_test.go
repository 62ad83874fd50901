package breaker_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache/breaker"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct{ now atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.now.Store(int64(1_700_000_000) * int64(time.Second))
	return c
}

func (c *fakeClock) NowNano() int64          { return c.now.Load() }
func (c *fakeClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// recorder collects OnStateChange calls.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) record(key string, from, to breaker.State) {
	r.mu.Lock()
	r.got = append(r.got, key+": "+from.String()+" -> "+to.String())
	r.mu.Unlock()
}

func (r *recorder) changes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func newSet(t *testing.T, o breaker.Options) *breaker.Set {
	t.Helper()
	s, err := breaker.New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return s
}

// call runs one call for key through s with the given outcome; it fails the
// test if the call is refused.
func call(t *testing.T, s *breaker.Set, key string, success bool) {
	t.Helper()
	done, err := s.Allow(key)
	if err != nil {
		t.Fatalf("Allow(%q): %v, want the call let through", key, err)
	}
	done(success)
}

// refused fails the test unless Allow(key) is refused; it returns the error.
func refused(t *testing.T, s *breaker.Set, key string) *breaker.OpenError {
	t.Helper()
	done, err := s.Allow(key)
	if err == nil {
		done(true)
		t.Fatalf("Allow(%q) let the call through, want an *OpenError (state %s)", key, s.State(key))
	}
	var oe *breaker.OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("Allow(%q) error %v (%T) is not an *OpenError", key, err, err)
	}
	if !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Allow(%q) error %v: errors.Is(err, ErrOpen) is false", key, err)
	}
	if done != nil {
		t.Fatalf("Allow(%q) returned a done function with its error", key)
	}
	return oe
}

func wantState(t *testing.T, s *breaker.Set, key string, want breaker.State) {
	t.Helper()
	if got := s.State(key); got != want {
		t.Fatalf("State(%q) = %s, want %s", key, got, want)
	}
}
