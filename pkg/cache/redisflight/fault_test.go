package redisflight_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisflight"
)

// TestDo_subscriptionSurvivesRestart restarts Redis under the shared
// subscription: once the connection is back, waiters are woken by
// announcements again (they give up before their first lease check).
func TestDo_subscriptionSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	leader := newCoordinator(t, srv.NewClient(t), prefix)
	waiter := newCoordinator(t, srv.NewClient(t), prefix, func(o *redisflight.Options) { o.WaitTimeout = 900 * time.Millisecond })
	waiting := newSignals()
	redisflight.SetHooks(waiter, nil, waiting.hook)

	// flight runs one flight of key and reports how it went for the waiter.
	flight := func(key string) error {
		started, abort := make(chan struct{}), make(chan struct{})
		lo := goDo(ctx, t, leader, key, func(ctx context.Context) cache.Result {
			close(started)
			select {
			case <-waiting:
				return cache.Result{Payload: []byte(key)}
			case <-abort:
				return cache.Result{Err: "the waiter failed"}
			case <-ctx.Done():
				return cache.Result{Err: ctx.Err().Error()}
			}
		})
		select {
		case <-started:
		case o := <-lo:
			return fmt.Errorf("leader: %+v, %v", o.res, o.err)
		}
		wo := receive(ctx, t, goDo(ctx, t, waiter, key, mustNotFetch(t, "waiter")), "waiter")
		close(abort)
		receive(ctx, t, lo, "leader")
		for len(waiting) > 0 { // a signal of a waiter that then failed
			<-waiting
		}
		if wo.err != nil || string(wo.res.Payload) != key {
			return fmt.Errorf("waiter: %+v, %v", wo.res, wo.err)
		}
		return nil
	}

	if err := flight("before"); err != nil {
		t.Fatalf("before the restart: %v", err)
	}
	srv.Restart(t)
	// Commands racing the reconnection may fail; the subscription must
	// recover within a few flights.
	var errs []error
	for i := range 5 {
		err := flight(fmt.Sprintf("after-%d", i))
		if err == nil {
			return
		}
		errs = append(errs, err)
	}
	t.Errorf("no flight after the restart reached its waiter by announcement: %v", errs)
}
