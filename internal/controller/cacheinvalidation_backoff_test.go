package controller

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

func TestSharedRetryAtWaitsTheBackoffAfterTheLastAttempt(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	tests := []struct {
		name     string
		attempts int32
		lastEnd  time.Time
		want     time.Time
	}{
		{"the first attempt is due at the start", 0, time.Time{}, start},
		{"after one failure, a second after it ended", 1, at(5 * time.Second), at(6 * time.Second)},
		{"after three failures, four seconds after the last", 3, at(20 * time.Second), at(24 * time.Second)},
		{"the delay is capped", 10, at(time.Hour), at(time.Hour + retryMax)},
		// A restarted operator does not know when the last attempt ended:
		// 1s + 2s + 4s after the start, as if every attempt took no time.
		{"unknown end: the floor from the start", 3, time.Time{}, at(7 * time.Second)},
		{"an end known to be early does not go below the floor", 3, at(time.Second), at(7 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sharedRetryAt(start, tt.attempts, tt.lastEnd); !got.Equal(tt.want) {
				t.Fatalf("sharedRetryAt(start, %d, %v) = start+%s; want start+%s", tt.attempts, tt.lastEnd, got.Sub(start), tt.want.Sub(start))
			}
		})
	}
}

func TestSharedAttemptsAreKeptPerRun(t *testing.T) {
	t.Parallel()
	var s sharedAttempts // the zero value is ready
	key := types.NamespacedName{Namespace: "ns", Name: "flush"}
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := s.lastEnd(key, "uid-1"); !got.IsZero() {
		t.Fatalf("lastEnd before any attempt = %v; want zero", got)
	}
	s.ended(key, "uid-1", end)
	if got := s.lastEnd(key, "uid-1"); !got.Equal(end) {
		t.Fatalf("lastEnd = %v; want %v", got, end)
	}
	if got := s.lastEnd(key, "uid-2"); !got.IsZero() {
		t.Fatalf("lastEnd of a new run of the same name = %v; want zero", got)
	}
	s.forget(key)
	if got := s.lastEnd(key, "uid-1"); !got.IsZero() {
		t.Fatalf("lastEnd after forget = %v; want zero", got)
	}
}

// A shared tier that fails for a while (Redis briefly down, or no ready
// pod during a rolling restart) is retried after the same delays as a pod,
// not at once on the watch event of its own status write, and the run
// completes once the tier recovers.
func TestSharedTierIsRetriedAfterTheBackoffAndCompletes(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	const failures = 2
	var mu sync.Mutex
	var arrived []time.Time // of each shared request
	fake := startFake(t, true, func(_ context.Context, req agentapi.InvalidationRequest, n int) int {
		if req.Layers != agentapi.LayersShared {
			return http.StatusOK
		}
		mu.Lock()
		arrived = append(arrived, time.Now())
		mu.Unlock()
		if n <= failures {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	createPod(t, ns, "web-0", map[string]string{"app": "web"}, fake.port)
	startOperator(t, ns, Options{})
	mustCreate(t, newPolicy(ns, "web", "web", func(s *v1alpha1.CachePolicySpec) {
		s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: "127.0.0.1:1", KeyPrefix: "web:"}
	}))
	mustCreate(t, newInvalidation(ns, "flush", "web", func(s *v1alpha1.CacheInvalidationSpec) { s.BackoffLimit = ptr.To[int32](failures) }))

	inv := waitFinished(t, ns, "flush", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	if sh := inv.Status.SharedLayers; len(sh) != 1 || sh[0].Attempts != failures+1 || sh[0].ExecutedBy != "web-0" || sh[0].LastError != "" {
		t.Fatalf("status: %s; want the shared tier done by web-0 at attempt %d", describeInvalidation(inv), failures+1)
	}
	if n := fake.count(string(inv.UID)+"-shared", agentapi.LayersShared); n != failures+1 {
		t.Fatalf("the agent got %d shared requests, want %d", n, failures+1)
	}
	mu.Lock()
	defer mu.Unlock()
	// Each request arrived before its attempt's end was recorded, so the
	// gap between two requests is at least the delay after the first:
	// the controller guarantees it, whatever the machine's speed.
	for i := 1; i < len(arrived); i++ {
		if gap, want := arrived[i].Sub(arrived[i-1]), retryDelay(int32(i)); gap < want {
			t.Errorf("shared attempt %d came %s after attempt %d; want at least the backoff of %s", i+1, gap, i, want)
		}
	}
}
