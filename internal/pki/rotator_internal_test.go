package pki

import (
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		failures int
		ceiling  time.Duration
		want     time.Duration
	}{
		{"the first failure retries soon", 1, time.Hour, 5 * time.Second},
		{"each failure in a row doubles the wait", 3, time.Hour, 20 * time.Second},
		{"the wait never exceeds the interval", 30, time.Hour, time.Hour},
		{"a short interval caps the first retry", 1, time.Second, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := retryAfter(tc.failures, tc.ceiling); got != tc.want {
				t.Errorf("retryAfter(%d, %s) = %s, want %s", tc.failures, tc.ceiling, got, tc.want)
			}
		})
	}
}
