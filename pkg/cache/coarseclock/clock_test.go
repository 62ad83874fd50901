package coarseclock

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newClock returns a clock stopped when the test ends.
func newClock(t *testing.T, resolution, idleAfter time.Duration) *Clock {
	t.Helper()
	c := New(resolution, idleAfter)
	t.Cleanup(c.Stop)
	return c
}

// waitAsleep polls until the clock's goroutine sleeps (asleep is true), or
// fails the test when its context ends first.
func waitAsleep(t *testing.T, c *Clock, want bool) {
	t.Helper()
	for c.asleep.Load() != want {
		if t.Context().Err() != nil {
			t.Fatalf("the clock never became asleep=%v", want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReadsLieBetweenCreationAndNow(t *testing.T) {
	t.Parallel()
	before := time.Now().UnixNano()
	c := newClock(t, time.Millisecond, time.Hour)
	for range 100 {
		if got, now := c.NowNano(), time.Now().UnixNano(); got < before || got > now {
			t.Fatalf("NowNano = %d, want between %d (creation) and %d (now)", got, before, now)
		}
	}
}

func TestSleepsWithoutReadsAndAReadWakesItWithThePreciseTime(t *testing.T) {
	t.Parallel()
	c := newClock(t, time.Millisecond, time.Millisecond)
	waitAsleep(t, c, true)
	for round := range 3 { // it sleeps again after each wake-up
		before := time.Now().UnixNano()
		if got := c.NowNano(); got < before {
			t.Fatalf("round %d: the read that woke the clock = %d, want the precise time (>= %d)", round, got, before)
		}
		if c.asleep.Load() {
			t.Fatalf("round %d: still asleep after a read", round)
		}
		// The tick's time is at least the wake-up's.
		if got := c.NowNano(); got < before {
			t.Fatalf("round %d: a read after the wake-up = %d, want >= %d", round, got, before)
		}
		waitAsleep(t, c, true)
	}
}

func TestConcurrentReadsOfASleepingClockAreNeverStale(t *testing.T) {
	t.Parallel()
	c := newClock(t, time.Millisecond, time.Millisecond)
	waitAsleep(t, c, true)
	before := time.Now().UnixNano()
	var wg sync.WaitGroup
	stale := make(chan int64, 64)
	for range 64 {
		wg.Go(func() {
			if got := c.NowNano(); got < before {
				stale <- got
			}
		})
	}
	wg.Wait()
	close(stale)
	for got := range stale {
		t.Errorf("a read after the clock slept = %d, want >= %d", got, before)
	}
}

func TestAfterStopEveryReadIsPrecise(t *testing.T) {
	t.Parallel()
	c := New(time.Hour, time.Hour) // no tick during the test
	c.Stop()
	c.Stop() // idempotent
	for range 3 {
		before := time.Now().UnixNano()
		if got := c.NowNano(); got < before {
			t.Fatalf("NowNano after Stop = %d, want the precise time (>= %d)", got, before)
		}
	}
}

func TestNewRejectsANonPositiveResolution(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Fatal("New(0, ...) did not panic")
		}
	}()
	New(0, time.Second)
}
