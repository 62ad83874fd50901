package redisbus_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisbus"
)

func TestSubscribeTwice(t *testing.T) {
	t.Parallel()
	b := newBus(t, redisbus.Options{Client: redistest.Shared(t).NewClient(t), Channel: testChannel(t)})
	if err := b.Subscribe(waitCtx(t), nil); err == nil {
		t.Error("Subscribe with a nil handler succeeded")
	}
	subscribe(t, b)
	if err := b.Subscribe(waitCtx(t), newRecorder()); !errors.Is(err, redisbus.ErrSubscribed) {
		t.Errorf("second Subscribe: %v, want ErrSubscribed", err)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	ch := testChannel(t)

	unsubscribed := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch})
	if err := unsubscribed.Close(); err != nil {
		t.Fatalf("Close without Subscribe: %v", err)
	}

	client := srv.NewClient(t)
	b := newBus(t, redisbus.Options{Client: client, Channel: ch})
	r := subscribe(t, b)
	other := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch})
	barrier(t, other, r)
	for i := range 2 {
		if err := b.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	m := cache.BusMessage{Kind: cache.BusClear}
	if err := b.Publish(waitCtx(t), m); !errors.Is(err, redisbus.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	if err := b.Subscribe(waitCtx(t), newRecorder()); !errors.Is(err, redisbus.ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
	// The client is the caller's: still open.
	if err := client.Ping(waitCtx(t)).Err(); err != nil {
		t.Errorf("client after Close: %v", err)
	}
	// Nothing is delivered after Close returned; the handler's channel
	// stays empty even though the channel carries traffic.
	publish(t, other, m)
	barrier(t, other, subscribe(t, newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch})))
	select {
	case got := <-r.msgs:
		t.Errorf("closed bus delivered %+v", got)
	default:
	}
}

// panicky panics on messages whose first key starts with "panic".
type panicky struct{ *recorder }

func (p panicky) OnMessage(m cache.BusMessage) {
	if strings.HasPrefix(m.Keys[0], "panic") {
		panic("handler bug: " + m.Keys[0])
	}
	p.recorder.OnMessage(m)
}

func TestHandlerPanicRecovered(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	ch := testChannel(t)
	errs := newErrLog()
	b := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, OnError: errs.add})
	r := newRecorder()
	if err := b.Subscribe(waitCtx(t), panicky{r}); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	other := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch})
	publish(t, other, cache.BusMessage{Kind: cache.BusDelete, Keys: []string{"panic-1"}})
	barrier(t, other, r)
	if s := b.Stats(); s.HandlerPanics != 1 || s.Delivered != 2 {
		t.Errorf("stats %+v, want 1 panic and 2 delivered", s)
	}
	if all := errs.all(); len(all) != 1 || !strings.Contains(all[0].Error(), "handler bug: panic-1") {
		t.Errorf("OnError got %v, want the panic", all)
	}
}

// TestConcurrentPublish runs publishers in parallel with delivery, for the
// race detector, and checks that every message arrives once.
func TestConcurrentPublish(t *testing.T) {
	t.Parallel()
	const publishers, each = 8, 50
	srv := redistest.Shared(t)
	ch := testChannel(t)
	sender := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, Secret: []byte("k")})
	receiver := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, Secret: []byte("k")})
	r := subscribe(t, receiver)
	subscribe(t, sender)

	var wg sync.WaitGroup
	errc := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				m := cache.BusMessage{Kind: cache.BusDelete, Keys: []string{fmt.Sprintf("%d/%d", p, i)}}
				if err := sender.Publish(t.Context(), m); err != nil {
					errc <- err
					return
				}
				_ = sender.Stats()
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("Publish: %v", err)
	}
	seen := make(map[string]bool)
	for range publishers * each {
		m := receive(t, r.msgs, "message")
		if seen[m.Keys[0]] {
			t.Fatalf("key %s delivered twice", m.Keys[0])
		}
		seen[m.Keys[0]] = true
	}
	if s := sender.Stats(); s.Published != publishers*each {
		t.Errorf("published %d, want %d", s.Published, publishers*each)
	}
}
