package cachetest_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
)

// The clock must fit both Clock interfaces it is passed as.
var _ cache.Clock = (*cachetest.ManualClock)(nil)

func TestManualClockMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	c := cachetest.NewManualClock()
	if got := c.NowNano(); got != start {
		t.Fatalf("NewManualClock reads %d, want %d (2026-01-01 UTC)", got, start)
	}
	if got := c.NowNano(); got != start {
		t.Errorf("a second read gives %d, want %d: the clock moved by itself", got, start)
	}
	c.Advance(90 * time.Second)
	if got, want := c.NowNano(), start+int64(90*time.Second); got != want {
		t.Errorf("after Advance(90s): %d, want %d", got, want)
	}
	c.Advance(-30 * time.Second)
	if got, want := c.NowNano(), start+int64(time.Minute); got != want {
		t.Errorf("after Advance(-30s): %d, want %d", got, want)
	}
	at := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	c.Set(at)
	if got := c.NowNano(); got != at.UnixNano() {
		t.Errorf("after Set(%v): %d, want %d", at, got, at.UnixNano())
	}

	var zero cachetest.ManualClock
	if got := zero.NowNano(); got != 0 {
		t.Errorf("zero ManualClock reads %d, want 0", got)
	}
}

func TestNewStackReadsTheClock(t *testing.T) {
	ctx := context.Background()
	s, clock := cachetest.NewStack(t, cache.Options{TTL: time.Minute})
	v := cache.Typed[string](s)
	calls := 0
	fetch := func(context.Context) (string, error) {
		calls++
		return fmt.Sprintf("v%d", calls), nil
	}
	steps := []struct {
		name    string
		advance time.Duration
		want    string
	}{
		{"fill", 0, "v1"},
		{"hit just before the TTL", time.Minute - time.Nanosecond, "v1"},
		{"refetch once the TTL has passed", time.Nanosecond, "v2"},
		{"hit on the new entry", 30 * time.Second, "v2"},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		got, err := v.Get(ctx, "k", fetch)
		if err != nil || got != st.want {
			t.Errorf("%s: Get = %q, %v; want %q, nil", st.name, got, err, st.want)
		}
	}
}

func TestNewStackReplacesOptionsClock(t *testing.T) {
	ctx := context.Background()
	other := cachetest.NewManualClock()
	s, clock := cachetest.NewStack(t, cache.Options{TTL: time.Minute, Clock: other})
	if clock == other {
		t.Fatal("NewStack returned the clock from opts, want a new one")
	}
	v := cache.Typed[string](s)
	if err := v.Set(ctx, "k", "v1"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	other.Advance(time.Hour) // must not expire anything: the Stack reads clock
	got, err := v.Get(ctx, "k", nil)
	if err != nil || got != "v1" {
		t.Errorf("Get after moving opts.Clock = %q, %v; want %q, nil", got, err, "v1")
	}
}

func TestDo(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen", r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Accept"))
		w.WriteHeader(http.StatusTeapot)
		_, _ = fmt.Fprint(w, "short and stout")
	})
	got := cachetest.Do(h, http.MethodPost, "/pot?brew=1", http.Header{"Accept": {"tea"}})
	if got.Status != http.StatusTeapot || got.Body != "short and stout" || got.Header.Get("X-Seen") != "POST /pot?brew=1 tea" {
		t.Errorf("Do(POST /pot?brew=1) = %d %q X-Seen %q, want %d %q %q",
			got.Status, got.Body, got.Header.Get("X-Seen"), http.StatusTeapot, "short and stout", "POST /pot?brew=1 tea")
	}
}
