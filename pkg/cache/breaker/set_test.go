package breaker_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache/breaker"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	cases := []struct {
		name  string
		opts  breaker.Options
		field string
	}{
		{"negative consecutive", breaker.Options{ConsecutiveFailures: -1}, "ConsecutiveFailures"},
		{"ratio above 1", breaker.Options{FailureRatio: 1.5}, "FailureRatio"},
		{"negative ratio", breaker.Options{FailureRatio: -0.1}, "FailureRatio"},
		{"min requests without ratio", breaker.Options{MinRequests: 5}, "MinRequests"},
		{"window without ratio", breaker.Options{Window: time.Second}, "Window"},
		{"negative min requests", breaker.Options{FailureRatio: 0.5, MinRequests: -1}, "MinRequests"},
		{"negative window", breaker.Options{FailureRatio: 0.5, Window: -time.Second}, "Window"},
		{"window too short", breaker.Options{FailureRatio: 0.5, Window: 9}, "Window"},
		{"negative open for", breaker.Options{OpenFor: -time.Second}, "OpenFor"},
		{"negative probes", breaker.Options{HalfOpenProbes: -1}, "HalfOpenProbes"},
		{"negative max breakers", breaker.Options{MaxBreakers: -1}, "MaxBreakers"},
	}
	for _, tc := range cases {
		s, err := breaker.New(tc.opts)
		if err == nil {
			t.Errorf("%s: New(%+v) = %v, nil; want an error", tc.name, tc.opts, s)
			continue
		}
		if !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "breaker: ") {
			t.Errorf("%s: New error %q should start with \"breaker: \" and name %s", tc.name, err, tc.field)
		}
	}
}

func TestZeroOptionsTripAfterFiveFailures(t *testing.T) {
	clock := newFakeClock()
	s := newSet(t, breaker.Options{Clock: clock})
	for range 4 {
		call(t, s, "k", false)
	}
	wantState(t, s, "k", breaker.Closed)
	call(t, s, "k", false)
	wantState(t, s, "k", breaker.Open)
	if oe := refused(t, s, "k"); oe.RetryAfter != breaker.DefaultOpenFor {
		t.Errorf("RetryAfter = %s, want %s", oe.RetryAfter, breaker.DefaultOpenFor)
	}
}

func TestTripsOnConsecutiveFailures(t *testing.T) {
	rec := &recorder{}
	s := newSet(t, breaker.Options{ConsecutiveFailures: 3, Clock: newFakeClock(), OnStateChange: rec.record})
	call(t, s, "k", false)
	call(t, s, "k", false)
	call(t, s, "k", true) // a success starts the count again
	call(t, s, "k", false)
	call(t, s, "k", false)
	wantState(t, s, "k", breaker.Closed)
	call(t, s, "other", false) // another key's failures are its own
	call(t, s, "k", false)
	wantState(t, s, "k", breaker.Open)
	wantState(t, s, "other", breaker.Closed)

	if got, want := rec.changes(), []string{"k: closed -> open"}; !slices.Equal(got, want) {
		t.Errorf("OnStateChange calls = %q, want %q", got, want)
	}
	st := s.Stats()
	if st.Trips != 1 || st.Closed != 1 || st.Open != 1 || st.HalfOpen != 0 {
		t.Errorf("Stats = %+v, want 1 trip, 1 closed and 1 open breaker", st)
	}
}

func TestTripsOnRatioOnlyAfterMinRequests(t *testing.T) {
	s := newSet(t, breaker.Options{FailureRatio: 0.5, MinRequests: 10, Clock: newFakeClock()})

	// Ratio alone: nine failures in a row are not enough, since fewer than
	// MinRequests calls have ended.
	for range 9 {
		call(t, s, "all-fail", false)
	}
	wantState(t, s, "all-fail", breaker.Closed)
	call(t, s, "all-fail", false)
	wantState(t, s, "all-fail", breaker.Open)

	// 6 successes, then failures: 4/10 and 5/11 stay closed, 6/12 trips.
	for range 6 {
		call(t, s, "mixed", true)
	}
	for range 5 {
		call(t, s, "mixed", false)
		wantState(t, s, "mixed", breaker.Closed)
	}
	call(t, s, "mixed", false)
	wantState(t, s, "mixed", breaker.Open)
}

func TestBothConditions(t *testing.T) {
	s := newSet(t, breaker.Options{ConsecutiveFailures: 3, FailureRatio: 0.9, MinRequests: 100, Clock: newFakeClock()})
	for range 3 {
		call(t, s, "k", false)
	}
	wantState(t, s, "k", breaker.Open)
}

func TestOpenRejectsWithRetryAfter(t *testing.T) {
	clock := newFakeClock()
	s := newSet(t, breaker.Options{ConsecutiveFailures: 1, OpenFor: time.Minute, Clock: clock})
	call(t, s, "k", false)
	clock.Advance(20 * time.Second)

	oe := refused(t, s, "k")
	if oe.Key != "k" || oe.State != breaker.Open || oe.RetryAfter != 40*time.Second {
		t.Errorf("OpenError = %+v, want key k, state open, RetryAfter 40s", *oe)
	}
	if want := `breaker: "k" is open (retry in 40s)`; oe.Error() != want {
		t.Errorf("Error() = %q, want %q", oe.Error(), want)
	}
	err := s.Check("k")
	var ce *breaker.OpenError
	if !errors.As(err, &ce) || ce.RetryAfter != 40*time.Second {
		t.Errorf("Check = %v, want an *OpenError with RetryAfter 40s", err)
	}
	if st := s.Stats(); st.Rejections != 2 {
		t.Errorf("Stats.Rejections = %d, want 2 (one Allow, one Check)", st.Rejections)
	}
	if err := s.Check("never-used"); err != nil {
		t.Errorf("Check(never-used) = %v, want nil", err)
	}
	wantState(t, s, "never-used", breaker.Closed)
	if st := s.Stats(); st.Closed+st.Open+st.HalfOpen != 1 {
		t.Errorf("Check and State made breakers: Stats = %+v, want 1 breaker", st)
	}

	clock.Advance(40*time.Second - 1)
	_ = refused(t, s, "k")
	clock.Advance(1)
	wantState(t, s, "k", breaker.HalfOpen)
	if err := s.Check("k"); err != nil {
		t.Errorf("Check after OpenFor = %v, want nil", err)
	}
}

func TestHalfOpenLetsExactlyProbesThroughConcurrently(t *testing.T) {
	const probes, callers = 3, 64
	clock := newFakeClock()
	rec := &recorder{}
	s := newSet(t, breaker.Options{
		ConsecutiveFailures: 1, OpenFor: time.Second, HalfOpenProbes: probes,
		Clock: clock, OnStateChange: rec.record,
	})
	call(t, s, "k", false)
	clock.Advance(time.Second)

	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var dones []func(bool)
	var refusals []*breaker.OpenError
	for range callers {
		wg.Go(func() {
			<-start
			done, err := s.Allow("k")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				var oe *breaker.OpenError
				if errors.As(err, &oe) {
					refusals = append(refusals, oe)
				}
				return
			}
			dones = append(dones, done)
		})
	}
	close(start)
	wg.Wait()

	if len(dones) != probes || len(refusals) != callers-probes {
		t.Fatalf("%d concurrent Allow on a half-open breaker: %d let through, %d refused; want %d and %d",
			callers, len(dones), len(refusals), probes, callers-probes)
	}
	for _, oe := range refusals {
		if oe.State != breaker.HalfOpen || oe.RetryAfter != 0 {
			t.Fatalf("refusal while half-open = %+v, want state half-open, RetryAfter 0", *oe)
		}
	}
	if err := s.Check("k"); !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("Check with every probe in flight = %v, want ErrOpen", err)
	}

	// Every probe must succeed before the breaker closes.
	for i, done := range dones {
		wantState(t, s, "k", breaker.HalfOpen)
		done(true)
		if i < probes-1 {
			_ = refused(t, s, "k")
		}
	}
	wantState(t, s, "k", breaker.Closed)
	call(t, s, "k", true)

	want := []string{"k: closed -> open", "k: open -> half-open", "k: half-open -> closed"}
	if got := rec.changes(); !slices.Equal(got, want) {
		t.Errorf("OnStateChange calls = %q, want %q", got, want)
	}
}

func TestProbeFailureReopens(t *testing.T) {
	clock := newFakeClock()
	s := newSet(t, breaker.Options{ConsecutiveFailures: 1, OpenFor: time.Second, HalfOpenProbes: 2, Clock: clock})
	call(t, s, "k", false)
	clock.Advance(time.Second)

	first, err := s.Allow("k")
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Allow("k")
	if err != nil {
		t.Fatal(err)
	}
	first(false)
	wantState(t, s, "k", breaker.Open)
	if oe := refused(t, s, "k"); oe.RetryAfter != time.Second {
		t.Errorf("RetryAfter after a failed probe = %s, want a full OpenFor (1s)", oe.RetryAfter)
	}

	// The other probe of the failed round ends later: it must neither
	// close the breaker nor use up a probe of the next round.
	second(true)
	wantState(t, s, "k", breaker.Open)
	clock.Advance(time.Second)
	a, err := s.Allow("k")
	if err != nil {
		t.Fatalf("first probe of the new round: %v", err)
	}
	b, err := s.Allow("k")
	if err != nil {
		t.Fatalf("second probe of the new round: %v", err)
	}
	a(true)
	b(true)
	wantState(t, s, "k", breaker.Closed)
	if st := s.Stats(); st.Trips != 2 {
		t.Errorf("Stats.Trips = %d, want 2", st.Trips)
	}
}

func TestOutcomeOfCallStartedBeforeTripIsIgnored(t *testing.T) {
	clock := newFakeClock()
	s := newSet(t, breaker.Options{ConsecutiveFailures: 2, OpenFor: time.Second, Clock: clock})
	slow, err := s.Allow("k")
	if err != nil {
		t.Fatal(err)
	}
	call(t, s, "k", false)
	call(t, s, "k", false)
	wantState(t, s, "k", breaker.Open)
	clock.Advance(time.Second)
	probe, err := s.Allow("k")
	if err != nil {
		t.Fatal(err)
	}
	slow(true) // began while closed: must not close the half-open breaker
	wantState(t, s, "k", breaker.HalfOpen)
	probe(true)
	wantState(t, s, "k", breaker.Closed)
}

func TestWindowRolls(t *testing.T) {
	clock := newFakeClock()
	s := newSet(t, breaker.Options{FailureRatio: 0.5, MinRequests: 4, Window: 10 * time.Second, Clock: clock})

	// Three failures, then the window moves past them: the fourth failure
	// is alone in the window.
	for range 3 {
		call(t, s, "old", false)
	}
	clock.Advance(11 * time.Second)
	call(t, s, "old", false)
	wantState(t, s, "old", breaker.Closed)

	// Outcomes spread over less than the window add up.
	call(t, s, "spread", false)
	call(t, s, "spread", false)
	clock.Advance(5 * time.Second)
	call(t, s, "spread", true)
	wantState(t, s, "spread", breaker.Closed)
	clock.Advance(4 * time.Second)
	call(t, s, "spread", false) // 3 of 4 in the last 9s
	wantState(t, s, "spread", breaker.Open)
}

func TestMaxBreakersDropsLeastRecentlyUsedIdle(t *testing.T) {
	clock := newFakeClock()
	rec := &recorder{}
	s := newSet(t, breaker.Options{ConsecutiveFailures: 1, MaxBreakers: 3, Clock: clock, OnStateChange: rec.record})
	call(t, s, "a", false) // a is open
	call(t, s, "b", true)
	inflight, err := s.Allow("c") // c has a call in flight
	if err != nil {
		t.Fatal(err)
	}

	// Least recently used: a, then b, then c. a is idle: dropped.
	call(t, s, "d", true)
	wantState(t, s, "a", breaker.Closed) // forgotten, so closed again
	if got, want := rec.changes(), []string{"a: closed -> open", "a: open -> closed"}; !slices.Equal(got, want) {
		t.Errorf("OnStateChange calls = %q, want %q", got, want)
	}

	// Now b, c, d; b is used again, so c is least recently used, but it has
	// a call in flight: d goes.
	call(t, s, "b", true)
	call(t, s, "e", true)
	st := s.Stats()
	if n := st.Closed + st.Open + st.HalfOpen; n != 3 || st.Evictions != 2 {
		t.Errorf("Stats = %+v, want 3 breakers and 2 evictions", st)
	}
	inflight(false) // c is still there: its failure opens it
	wantState(t, s, "c", breaker.Open)
}

func TestMaxBreakersBoundAcrossShards(t *testing.T) {
	const maxBreakers = 1000
	s := newSet(t, breaker.Options{MaxBreakers: maxBreakers, Clock: newFakeClock()})
	for i := range 20 * maxBreakers {
		call(t, s, "key:"+strconv.Itoa(i), true)
	}
	st := s.Stats()
	if n := st.Closed + st.Open + st.HalfOpen; n > maxBreakers || n < maxBreakers/2 {
		t.Errorf("after %d keys with MaxBreakers %d, the Set holds %d breakers", 20*maxBreakers, maxBreakers, n)
	}
	if st.Evictions != uint64(20*maxBreakers-(st.Closed+st.Open+st.HalfOpen)) {
		t.Errorf("Stats = %+v: evictions and breakers do not add up to %d keys", st, 20*maxBreakers)
	}
}

func TestForget(t *testing.T) {
	rec := &recorder{}
	s := newSet(t, breaker.Options{ConsecutiveFailures: 1, Clock: newFakeClock(), OnStateChange: rec.record})
	call(t, s, "a", false)
	call(t, s, "b", false)
	call(t, s, "c", true)
	s.Forget("a")
	wantState(t, s, "a", breaker.Closed)
	wantState(t, s, "b", breaker.Open)
	s.ForgetAll()
	wantState(t, s, "b", breaker.Closed)
	if st := s.Stats(); st.Closed+st.Open+st.HalfOpen != 0 {
		t.Errorf("after ForgetAll, Stats = %+v, want no breakers", st)
	}
	want := []string{"a: closed -> open", "b: closed -> open", "a: open -> closed", "b: open -> closed"}
	if got := rec.changes(); !slices.Equal(got, want) {
		t.Errorf("OnStateChange calls = %q, want %q", got, want)
	}
}

func TestOnStateChangeMayCallTheSet(t *testing.T) {
	var s *breaker.Set
	var seen []breaker.State
	s = newSet(t, breaker.Options{ConsecutiveFailures: 1, Clock: newFakeClock(),
		OnStateChange: func(key string, _, _ breaker.State) { seen = append(seen, s.State(key)) }})
	call(t, s, "k", false)
	if !slices.Equal(seen, []breaker.State{breaker.Open}) {
		t.Errorf("State read from OnStateChange = %v, want [open]", seen)
	}
}

// panicClock panics while armed.
type panicClock struct {
	fakeClock
	armed bool
}

func (c *panicClock) NowNano() int64 {
	if c.armed {
		panic("clock broke")
	}
	return c.fakeClock.NowNano()
}

func TestPanicsLeaveTheSetUsable(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	clock := &panicClock{}
	s := newSet(t, breaker.Options{ConsecutiveFailures: 1, Clock: clock,
		OnStateChange: func(string, breaker.State, breaker.State) { panic("callback broke") }})
	done, err := s.Allow("k")
	if err != nil {
		t.Fatal(err)
	}
	mustPanic("done with a panicking OnStateChange", func() { done(false) })
	wantState(t, s, "k", breaker.Open)

	clock.armed = true
	mustPanic("Allow with a panicking Clock", func() { _, _ = s.Allow("k") })
	mustPanic("Stats with a panicking Clock", func() { _ = s.Stats() })
	clock.armed = false
	_ = refused(t, s, "k") // would deadlock if a panic had left a lock held
	if st := s.Stats(); st.Open != 1 {
		t.Errorf("Stats = %+v, want 1 open breaker", st)
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[breaker.State]string{
		breaker.Closed: "closed", breaker.Open: "open", breaker.HalfOpen: "half-open", 7: "State(7)",
	} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", s, got, want)
		}
	}
}

func TestAllowOnClosedBreakerAllocatesNothing(t *testing.T) {
	for _, o := range []breaker.Options{
		{Clock: newFakeClock()},
		{FailureRatio: 0.5, Clock: newFakeClock()},
		{MaxBreakers: 100_000}, // sharded, system clock
	} {
		s := newSet(t, o)
		call(t, s, "k", true)
		allocs := testing.AllocsPerRun(1000, func() {
			done, err := s.Allow("k")
			if err != nil {
				t.Fatal(err)
			}
			done(true)
		})
		if allocs != 0 {
			t.Errorf("Options %+v: Allow and done on a closed breaker allocate %.1f times, want 0", o, allocs)
		}
	}
}

// TestConcurrentUse is for the race detector: every method at once, on few
// keys, with time moving.
func TestConcurrentUse(t *testing.T) {
	clock := newFakeClock()
	s := newSet(t, breaker.Options{
		ConsecutiveFailures: 3, FailureRatio: 0.5, MinRequests: 5, Window: time.Second,
		OpenFor: 10 * time.Millisecond, HalfOpenProbes: 2, MaxBreakers: 6, Clock: clock,
		OnStateChange: func(string, breaker.State, breaker.State) {},
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := "k" + strconv.Itoa((g+i)%9)
				switch i % 50 {
				case 0:
					clock.Advance(time.Millisecond)
				case 1:
					s.Forget(key)
				case 2:
					_ = s.Stats()
				case 3:
					_ = s.Check(key)
				case 4:
					_ = s.State(key)
				}
				if i%997 == 0 {
					s.ForgetAll()
				}
				done, err := s.Allow(key)
				if err != nil {
					if !errors.Is(err, breaker.ErrOpen) {
						t.Errorf("Allow: %v", err)
					}
					continue
				}
				done(i%3 != 0)
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if n := st.Closed + st.Open + st.HalfOpen; n > 6 {
		t.Errorf("Set holds %d breakers, more than MaxBreakers 6", n)
	}
}

func BenchmarkAllowClosed(b *testing.B) {
	s, err := breaker.New(breaker.Options{FailureRatio: 0.5})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key:" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			done, err := s.Allow(keys[i%len(keys)])
			if err != nil {
				b.Fatal(err)
			}
			done(true)
			i++
		}
	})
}
