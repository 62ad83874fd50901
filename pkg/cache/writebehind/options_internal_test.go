package writebehind

import (
	"testing"
	"time"
)

func TestBackoffDoublesUpToMax(t *testing.T) {
	c := config{retryBackoff: 3 * time.Second}
	for n, want := range map[int]time.Duration{
		1:  3 * time.Second,
		2:  6 * time.Second,
		3:  MaxRetryBackoff,
		60: MaxRetryBackoff,
	} {
		if got := c.backoff(n); got != want {
			t.Errorf("backoff(%d) with RetryBackoff 3s = %s, want %s", n, got, want)
		}
	}
}

func TestResolveDefaults(t *testing.T) {
	var o Options
	c, err := o.resolve()
	if err != nil {
		t.Fatalf("resolve(zero Options): %v", err)
	}
	if c.batchSize != DefaultBatchSize || c.flushInterval != DefaultFlushInterval ||
		c.maxPending != DefaultMaxPending || c.onFull != Block || c.maxRetries != DefaultMaxRetries ||
		c.retryBackoff != DefaultRetryBackoff || c.closeTimeout != DefaultCloseTimeout || c.clock == nil {
		t.Errorf("resolve(zero Options) = %+v, want the documented defaults", c)
	}
}
