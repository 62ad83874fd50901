package cachetest

import (
	"sync/atomic"
	"time"
)

// ManualClock is a clock that moves only when told to: by Advance or Set.
// It satisfies the Clock interfaces of package cache and of the layers
// (NowNano() int64), so a Stack and its layers can share one.
//
// It is safe for concurrent use. The zero value is ready to use and reads
// as the Unix epoch; NewManualClock starts at a fixed date instead.
type ManualClock struct {
	now atomic.Int64 // Unix nanoseconds
}

// NewManualClock returns a ManualClock set to 2026-01-01 00:00:00 UTC. The
// start is fixed, not the real time, so that expiry times and anything
// derived from them are the same on every run.
func NewManualClock() *ManualClock {
	c := &ManualClock{}
	c.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return c
}

// NowNano returns the clock's time as Unix nanoseconds.
func (c *ManualClock) NowNano() int64 { return c.now.Load() }

// Advance moves the clock by d; a negative d moves it back.
func (c *ManualClock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// Set moves the clock to t, forwards or back. Tests whose entries also
// expire in a real server (Redis) set it to time.Now() first, so that both
// agree on what is in the future.
func (c *ManualClock) Set(t time.Time) { c.now.Store(t.UnixNano()) }
