package redisbus_test

import (
	"errors"
	"testing"
	"time"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisbus"
)

// TestReconnectAfterRestart restarts Redis under a subscribed bus: the
// handler hears OnReconnect once the subscription is back, and later
// messages arrive again.
func TestReconnectAfterRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ch := testChannel(t)
	errs := newErrLog()
	sub := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, Secret: []byte("k"), OnError: errs.add})
	pub := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, Secret: []byte("k")})
	r := subscribe(t, sub)
	barrier(t, pub, r)

	for round := 1; round <= 2; round++ {
		srv.Restart(t)
		receive(t, r.reconnects, "OnReconnect")
		barrier(t, pub, r)
		if s := sub.Stats(); s.Reconnects != uint64(round) {
			t.Errorf("round %d: %d reconnects counted", round, s.Reconnects)
		}
	}
	if len(errs.all()) == 0 {
		t.Error("the lost connection was not reported to OnError")
	}
	// The replay filter still knows what it accepted before the restarts.
	if s := sub.Stats(); s.DroppedReplayed != 0 || s.Delivered != 3 {
		t.Errorf("stats %+v, want 3 delivered", s)
	}
}

// TestReconnectAfterOutage stops Redis for a while: the bus reports the
// failing attempts, keeps trying, and resumes when Redis is back.
func TestReconnectAfterOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ch := testChannel(t)
	failures := make(chan error, 1024)
	sub := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, OnError: func(err error) {
		select {
		case failures <- err:
		default:
		}
	}})
	pub := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch})
	r := subscribe(t, sub)

	srv.Stop(t)
	// Wait for two failed attempts: the one that lost the connection and
	// at least one that could not restore it.
	for _, what := range []string{"report of the lost connection", "report of a failed reconnect"} {
		if err := receive(t, failures, what); err == nil {
			t.Fatalf("OnError(nil) as %s", what)
		}
	}
	if err := pub.Publish(waitCtx(t), cache.BusMessage{Kind: cache.BusClear}); err == nil {
		t.Error("Publish while Redis is down succeeded")
	}
	select {
	case <-r.reconnects:
		t.Fatal("OnReconnect while Redis is down")
	default:
	}

	srv.Restart(t)
	receive(t, r.reconnects, "OnReconnect")
	barrier(t, pub, r)
}

// TestReconnectAfterSilence freezes Redis (CLIENT PAUSE), so that the
// subscription's connection stays open but nothing answers: the health
// check replaces the connection and reports a reconnect.
func TestReconnectAfterSilence(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ch := testChannel(t)
	const interval = 50 * time.Millisecond
	errs := newErrLog()
	sub := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, HealthCheckInterval: interval, OnError: errs.add})
	pub := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch})
	r := subscribe(t, sub)
	barrier(t, pub, r)

	// The pause blocks every command, CLIENT UNPAUSE included, so it ends
	// by itself; it lasts many health-check intervals.
	const pause = 2 * time.Second
	admin := srv.NewClient(t)
	if err := admin.Do(waitCtx(t), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	// Wait until the bus gave up on the silent connection.
	ctx := waitCtx(t)
	for !errs.contains("no answer to PING") {
		select {
		case <-ctx.Done():
			t.Fatalf("no health-check failure reported; OnError got %v", errs.all())
		case <-errs.added:
		}
	}
	receive(t, r.reconnects, "OnReconnect")
	barrier(t, pub, r)
	if s := sub.Stats(); s.Reconnects != 1 {
		t.Errorf("%d reconnects counted, want 1; OnError got %v", s.Reconnects, errs.all())
	}
}

// TestSubscribeRetry shows that a failed first subscription is not
// permanent: the caller retries on the same bus once Redis is back.
func TestSubscribeRetry(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ch := testChannel(t)
	b := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch})
	srv.Stop(t)
	err := b.Subscribe(waitCtx(t), newRecorder())
	if err == nil || errors.Is(err, redisbus.ErrSubscribed) {
		t.Fatalf("Subscribe with Redis down: %v, want a connection error", err)
	}
	srv.Restart(t)
	r := subscribe(t, b)
	barrier(t, newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch}), r)
}
