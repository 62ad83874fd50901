package controller

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

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

	// While it fails, status says when it is tried next: the time survives
	// an operator restart.
	eventually(t, "a failed shared attempt recorded", func() error {
		inv := getInvalidation(t, ns, "flush")
		sh := inv.Status.SharedLayers
		if len(sh) != 1 || sh[0].LastError == "" || sh[0].CompletionTime != nil {
			return fmt.Errorf("status: %s", describeInvalidation(inv))
		}
		if sh[0].NextAttemptTime == nil {
			t.Errorf("failed shared attempt %+v; want its nextAttemptTime set", sh[0])
		}
		return nil
	})

	inv := waitFinished(t, ns, "flush", v1alpha1.ConditionComplete, v1alpha1.ReasonCompleted)
	if sh := inv.Status.SharedLayers; len(sh) != 1 || sh[0].Attempts != failures+1 || sh[0].ExecutedBy != "web-0" || sh[0].LastError != "" || sh[0].NextAttemptTime != nil {
		t.Fatalf("status: %s; want the shared tier done by web-0 at attempt %d, with no next attempt", describeInvalidation(inv), failures+1)
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
