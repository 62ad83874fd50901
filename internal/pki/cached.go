package pki

import (
	"sync"
	"time"
)

// cached is a value loaded on demand and kept for a while. The zero value
// is empty and ready to use; it must not be copied after first use.
type cached[T any] struct {
	mu  sync.Mutex // protects val, at and ok; held while loading, so concurrent handshakes share one read
	val T
	at  time.Time // when val was loaded, or last failed to reload
	ok  bool
}

// get returns the value if it is younger than maxAge, else loads it. A
// failed load returns the error if there is no value yet; otherwise it
// returns the old value and waits maxAge before trying again, so that an
// API server outage neither breaks TLS nor turns every handshake into a
// slow failed read.
func (c *cached[T]) get(now time.Time, maxAge time.Duration, load func() (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok && now.Sub(c.at) < maxAge {
		return c.val, nil
	}
	v, err := load()
	if err != nil {
		if c.ok {
			c.at = now
			return c.val, nil
		}
		return v, err
	}
	c.val, c.at, c.ok = v, now, true
	return v, nil
}
