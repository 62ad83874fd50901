package pki

import (
	"errors"
	"testing"
	"time"
)

func TestCached(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	boom := errors.New("API server down")
	type step struct {
		at      time.Duration // after start
		loadErr error         // what a load returns (a load returns at otherwise)
		want    time.Duration // the value got, or -1 for an error
		loaded  bool          // whether get loaded
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a failure with nothing cached is returned, and not cached", []step{
			{0, boom, -1, true},
			{time.Second, nil, time.Second, true},
		}},
		{"a value is kept for maxAge, then reloaded", []step{
			{0, nil, 0, true},
			{59 * time.Second, nil, 0, false},
			{time.Minute, nil, time.Minute, true},
		}},
		{"a failed reload keeps the old value and waits maxAge to retry", []step{
			{0, nil, 0, true},
			{time.Minute, boom, 0, true},
			{90 * time.Second, nil, 0, false},
			{2 * time.Minute, nil, 2 * time.Minute, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c cached[time.Duration]
			for i, s := range tc.steps {
				loaded := false
				got, err := c.get(start.Add(s.at), time.Minute, func() (time.Duration, error) {
					loaded = true
					return s.at, s.loadErr
				})
				if s.want < 0 {
					if err == nil {
						t.Errorf("step %d: got %s, want an error", i, got)
					}
				} else if err != nil || got != s.want {
					t.Errorf("step %d: got %s, %v; want %s", i, got, err, s.want)
				}
				if loaded != s.loaded {
					t.Errorf("step %d: loaded = %v, want %v", i, loaded, s.loaded)
				}
			}
		})
	}
}
