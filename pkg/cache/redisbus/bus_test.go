package redisbus_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisbus"
)

// pair returns two subscribed buses on one channel of the shared server.
func pair(t *testing.T, opts redisbus.Options) (a, b *redisbus.Bus, ra, rb *recorder) {
	t.Helper()
	srv := redistest.Shared(t)
	if opts.Channel == "" {
		opts.Channel = testChannel(t)
	}
	opts.Client = srv.NewClient(t)
	a = newBus(t, opts)
	opts.Client = srv.NewClient(t)
	b = newBus(t, opts)
	return a, b, subscribe(t, a), subscribe(t, b)
}

func TestDeliversOthersMessagesNotOwn(t *testing.T) {
	t.Parallel()
	a, b, ra, rb := pair(t, redisbus.Options{})

	msgs := []cache.BusMessage{
		{Kind: cache.BusDelete, Keys: []string{"k1", "k2"}},
		{Kind: cache.BusExpire, Keys: []string{"k3"}, Prefix: "ignored-but-carried", Generation: 3},
		{Kind: cache.BusWrite, Keys: []string{"", "ключ", strings.Repeat("x", 300)}},
		{Kind: cache.BusClear, Prefix: "tenant:7:"},
		{Kind: cache.BusClear},
		{Kind: cache.BusGeneration, Generation: 1 << 60},
	}
	for _, m := range msgs {
		publish(t, a, m)
		expectMessage(t, rb, m)
	}
	// a's own messages came back to it from Redis and were dropped: the
	// first message a delivers is b's.
	for _, m := range msgs {
		publish(t, b, m)
		expectMessage(t, ra, m)
	}
	sa, sb := a.Stats(), b.Stats()
	n := uint64(len(msgs))
	if sa.Published != n || sa.DroppedOwn != n || sa.Delivered != n || sa.Received != 2*n {
		t.Errorf("a: %+v, want %d published, own dropped, delivered and %d received", sa, n, 2*n)
	}
	if sb.Published != n || sb.Delivered != n {
		t.Errorf("b: %+v, want %d published and delivered", sb, n)
	}
	// After Close no message is being handled, so the counters add up.
	for name, bus := range map[string]*redisbus.Bus{"a": a, "b": b} {
		if err := bus.Close(); err != nil {
			t.Fatalf("%s: Close: %v", name, err)
		}
		s := bus.Stats()
		if s.Received != s.Delivered+s.Dropped() {
			t.Errorf("%s: received %d != delivered %d + dropped %d", name, s.Received, s.Delivered, s.Dropped())
		}
		if s.Reconnects != 0 {
			t.Errorf("%s: %d reconnects, want 0", name, s.Reconnects)
		}
	}
}

// TestEmptyDeleteNotPublished checks the fix of the reference's weakness
// 17: key messages without keys invalidate nothing and are not sent.
func TestEmptyDeleteNotPublished(t *testing.T) {
	t.Parallel()
	a, b, _, rb := pair(t, redisbus.Options{})
	for _, k := range []cache.BusKind{cache.BusDelete, cache.BusExpire, cache.BusWrite} {
		publish(t, a, cache.BusMessage{Kind: k})
		publish(t, a, cache.BusMessage{Kind: k, Keys: []string{}})
	}
	barrier(t, a, rb)
	if s := a.Stats(); s.Published != 1 {
		t.Errorf("a published %d messages, want only the barrier", s.Published)
	}
	if s := b.Stats(); s.Received != 1 {
		t.Errorf("b received %d messages, want only the barrier", s.Received)
	}
}

func TestPublishRejects(t *testing.T) {
	t.Parallel()
	b := newBus(t, redisbus.Options{Client: redistest.Shared(t).NewClient(t), Channel: testChannel(t),
		MaxMessageBytes: redisbus.MinMessageBytes})
	long := strings.Repeat("x", redisbus.MinMessageBytes)
	for _, tc := range []struct {
		name    string
		m       cache.BusMessage
		tooLong bool
	}{
		{"unknown kind", cache.BusMessage{Kind: 0, Keys: []string{"k"}}, false},
		{"kind past the last", cache.BusMessage{Kind: cache.BusGeneration + 1}, false},
		{"clear with keys", cache.BusMessage{Kind: cache.BusClear, Keys: []string{"k"}}, false},
		{"generation with keys", cache.BusMessage{Kind: cache.BusGeneration, Keys: []string{"k"}}, false},
		{"key too long", cache.BusMessage{Kind: cache.BusDelete, Keys: []string{"a", long, "b"}}, true},
		{"prefix too long", cache.BusMessage{Kind: cache.BusClear, Prefix: long}, true},
	} {
		err := b.Publish(waitCtx(t), tc.m)
		if err == nil {
			t.Errorf("%s: Publish(%.80v) = nil, want an error", tc.name, tc.m)
			continue
		}
		if got := errors.Is(err, cache.ErrTooLarge); got != tc.tooLong {
			t.Errorf("%s: Publish error %q: errors.Is(cache.ErrTooLarge) = %v, want %v", tc.name, err, got, tc.tooLong)
		}
	}
	if s := b.Stats(); s.Published != 0 {
		t.Errorf("%d messages published, want none", s.Published)
	}
}

// TestChunks publishes key lists larger than one message and checks that
// every key arrives once, in order, in messages within the limit.
func TestChunks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   redisbus.Options
		keys   int
		keyLen int
	}{
		{"default limit", redisbus.Options{}, 60_000, 40},
		{"small limit", redisbus.Options{MaxMessageBytes: redisbus.MinMessageBytes}, 3_000, 25},
		{"small limit signed", redisbus.Options{MaxMessageBytes: redisbus.MinMessageBytes, Secret: []byte("chunk-secret")}, 3_000, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b, _, rb := pair(t, tc.opts)
			keys := make([]string, tc.keys)
			for i := range keys {
				keys[i] = fmt.Sprintf("%0*d", tc.keyLen, i)
			}
			m := cache.BusMessage{Kind: cache.BusExpire, Keys: keys, Prefix: "p", Generation: 9}
			publish(t, a, m)
			parts := a.Stats().Published
			if parts < 2 {
				t.Fatalf("%d keys of %d bytes went out in %d message(s), want several", tc.keys, tc.keyLen, parts)
			}
			var got []string
			for range parts {
				part := receive(t, rb.msgs, "part")
				if part.Kind != m.Kind || part.Prefix != m.Prefix || part.Generation != m.Generation || len(part.Keys) == 0 {
					t.Fatalf("part %+.80v does not carry the message's kind, prefix and generation", part)
				}
				got = append(got, part.Keys...)
			}
			if len(got) != len(keys) {
				t.Fatalf("received %d keys in %d parts, want %d", len(got), parts, len(keys))
			}
			for i := range keys {
				if got[i] != keys[i] {
					t.Fatalf("key %d is %q, want %q", i, got[i], keys[i])
				}
			}
			barrier(t, a, rb)
			if s := b.Stats(); s.Dropped() != 0 {
				t.Errorf("receiver dropped messages: %+v", s)
			}
		})
	}
}

func TestOversizedIncomingDropped(t *testing.T) {
	t.Parallel()
	errs := newErrLog()
	a, b, ra, rb := pair(t, redisbus.Options{MaxMessageBytes: redisbus.MinMessageBytes, OnError: errs.add})
	raw := redistest.Shared(t).NewClient(t)
	m := cache.BusMessage{Kind: cache.BusDelete, Keys: []string{strings.Repeat("k", redisbus.MinMessageBytes)}}
	publishRaw(t, raw, a.Channel(), redisbus.EncodeWire(wire("intruder", m), nil, a.Channel()))
	barrier(t, a, rb)
	barrier(t, b, ra)
	// Both buses read the message, and both dropped it.
	for name, bus := range map[string]*redisbus.Bus{"a": a, "b": b} {
		if s := bus.Stats(); s.DroppedOversized != 1 {
			t.Errorf("%s: stats %+v, want 1 oversized", name, s)
		}
	}
	if n := errs.count(cache.ErrTooLarge); n != 2 {
		t.Errorf("OnError got %v, want two errors wrapping cache.ErrTooLarge", errs.all())
	}
}
