package redisbus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisbus"
)

// signedSetup is a signed bus under attack (victim), a peer with the same
// secret, and a raw client for the attacker.
type signedSetup struct {
	secret       []byte
	victim, peer *redisbus.Bus
	rv           *recorder
	errs         *errLog
	raw          *redis.Client
}

const testMaxSkew = 10 * time.Second

func newSignedSetup(t *testing.T) *signedSetup {
	t.Helper()
	srv := redistest.Shared(t)
	s := &signedSetup{secret: []byte("0123456789abcdef0123456789abcdef"), errs: newErrLog(), raw: srv.NewClient(t)}
	ch := testChannel(t)
	s.victim = newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, Secret: s.secret,
		RequireSignature: true, MaxSkew: testMaxSkew, OnError: s.errs.add})
	s.peer = newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, Secret: s.secret})
	s.rv = subscribe(t, s.victim)
	return s
}

// attack publishes payload with the raw client, then checks that the victim
// dropped it with the error want and nothing else: the next message it
// delivers is the peer's barrier.
func (s *signedSetup) attack(t *testing.T, payload []byte, want error, counter func(redisbus.Stats) uint64) {
	t.Helper()
	before, errsBefore := s.victim.Stats(), s.errs.count(want)
	publishRaw(t, s.raw, s.victim.Channel(), payload)
	barrier(t, s.peer, s.rv)
	after := s.victim.Stats()
	if got := counter(after) - counter(before); got != 1 {
		t.Errorf("counter went up by %d, want 1 (stats %+v)", got, after)
	}
	if got := after.Dropped() - before.Dropped(); got != 1 {
		t.Errorf("%d messages dropped, want 1 (stats %+v)", got, after)
	}
	if got := s.errs.count(want) - errsBefore; got != 1 {
		t.Errorf("OnError received %d errors wrapping %v, want 1; all: %v", got, want, s.errs.all())
	}
}

func TestSignedRejects(t *testing.T) {
	t.Parallel()
	s := newSignedSetup(t)
	ch := s.victim.Channel()
	clearAll := cache.BusMessage{Kind: cache.BusClear}
	unsigned := func(st redisbus.Stats) uint64 { return st.DroppedUnsigned }
	badSig := func(st redisbus.Stats) uint64 { return st.DroppedBadSignature }
	stale := func(st redisbus.Stats) uint64 { return st.DroppedStale }
	malformed := func(st redisbus.Stats) uint64 { return st.DroppedMalformed }

	t.Run("unsigned", func(t *testing.T) {
		s.attack(t, redisbus.EncodeWire(wire("intruder", clearAll), nil, ch), redisbus.ErrUnsigned, unsigned)
	})
	t.Run("unsigned claiming the victim's ID", func(t *testing.T) {
		s.attack(t, redisbus.EncodeWire(wire(s.victim.InstanceID(), clearAll), nil, ch), redisbus.ErrUnsigned, unsigned)
	})
	t.Run("other secret", func(t *testing.T) {
		s.attack(t, redisbus.EncodeWire(wire("intruder", clearAll), []byte("not-the-secret"), ch), redisbus.ErrBadSignature, badSig)
	})
	t.Run("signed for another channel", func(t *testing.T) {
		s.attack(t, redisbus.EncodeWire(wire("intruder", clearAll), s.secret, ch+":other"), redisbus.ErrBadSignature, badSig)
	})
	t.Run("tampered key", func(t *testing.T) {
		p := redisbus.EncodeWire(wire("peer", cache.BusMessage{Kind: cache.BusDelete, Keys: []string{"user:1"}}), s.secret, ch)
		i := len(p) - 32 - 1 // the last byte of the key, before the MAC
		p[i] = '2'
		s.attack(t, p, redisbus.ErrBadSignature, badSig)
	})
	t.Run("signature stripped", func(t *testing.T) {
		p := redisbus.EncodeWire(wire("peer", clearAll), s.secret, ch)
		p = p[:len(p)-32]
		p[1] = 0 // flags: unsigned
		s.attack(t, p, redisbus.ErrUnsigned, unsigned)
	})
	t.Run("signature truncated", func(t *testing.T) {
		p := redisbus.EncodeWire(wire("peer", clearAll), s.secret, ch)
		s.attack(t, p[:len(p)-1], redisbus.ErrMalformed, malformed)
	})
	t.Run("stale", func(t *testing.T) {
		w := wire("peer", clearAll)
		w.Time = time.Now().Add(-2 * testMaxSkew)
		s.attack(t, redisbus.EncodeWire(w, s.secret, ch), redisbus.ErrStale, stale)
	})
	t.Run("from the future", func(t *testing.T) {
		w := wire("peer", clearAll)
		w.Time = time.Now().Add(2 * testMaxSkew)
		s.attack(t, redisbus.EncodeWire(w, s.secret, ch), redisbus.ErrStale, stale)
	})
	t.Run("garbage", func(t *testing.T) {
		s.attack(t, []byte("{\"scope\":\"clear\"}"), redisbus.ErrMalformed, malformed)
	})
	if st := s.victim.Stats(); st.Delivered != st.Received-st.Dropped() {
		t.Errorf("stats %+v do not add up", st)
	}
}

// TestReplayRejected captures a message the peer really sent, off the
// channel, and publishes it again.
func TestReplayRejected(t *testing.T) {
	t.Parallel()
	s := newSignedSetup(t)
	ctx := waitCtx(t)
	spy := s.raw.Subscribe(ctx, s.victim.Channel())
	defer func() {
		if err := spy.Close(); err != nil {
			t.Errorf("close spy: %v", err)
		}
	}()
	if _, err := spy.Receive(ctx); err != nil { // the subscription's confirmation
		t.Fatalf("spy subscribe: %v", err)
	}

	m := cache.BusMessage{Kind: cache.BusClear, Prefix: "tenant:1:"}
	publish(t, s.peer, m)
	expectMessage(t, s.rv, m)
	captured, err := spy.ReceiveMessage(ctx)
	if err != nil {
		t.Fatalf("spy: %v", err)
	}

	replayed := func(st redisbus.Stats) uint64 { return st.DroppedReplayed }
	s.attack(t, []byte(captured.Payload), redisbus.ErrReplayed, replayed)
	s.attack(t, []byte(captured.Payload), redisbus.ErrReplayed, replayed)
}

// TestUnsignedBusAcceptsSigned checks the roll-out path: an instance
// without a secret still applies signed invalidations from one with it.
func TestUnsignedBusAcceptsSigned(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	ch := testChannel(t)
	secret := []byte("s")
	signed := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, Secret: secret})
	signed2 := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, Secret: secret})
	plain := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch})
	rs, rp := subscribe(t, signed), subscribe(t, plain)

	m := cache.BusMessage{Kind: cache.BusDelete, Keys: []string{"k"}}
	publish(t, signed, m)
	expectMessage(t, rp, m)
	// The other way round the message is dropped: the signed bus delivers
	// the barrier first.
	publish(t, plain, m)
	barrier(t, signed2, rs)
	if st := signed.Stats(); st.DroppedUnsigned != 1 {
		t.Errorf("signed bus: %+v, want 1 unsigned dropped", st)
	}
}

func TestSignedAcceptsWithinSkew(t *testing.T) {
	t.Parallel()
	s := newSignedSetup(t)
	for _, d := range []time.Duration{-testMaxSkew / 2, testMaxSkew / 2} {
		w := wire("peer-with-skewed-clock", cache.BusMessage{Kind: cache.BusDelete, Keys: []string{d.String()}})
		w.Time = time.Now().Add(d)
		publishRaw(t, s.raw, s.victim.Channel(), redisbus.EncodeWire(w, s.secret, s.victim.Channel()))
		expectMessage(t, s.rv, w.Msg)
	}
}

func TestOnErrorNotCalledForOwn(t *testing.T) {
	t.Parallel()
	s := newSignedSetup(t)
	publish(t, s.victim, cache.BusMessage{Kind: cache.BusClear})
	barrier(t, s.peer, s.rv)
	if errs := s.errs.all(); len(errs) != 0 {
		t.Errorf("OnError got %v, want nothing", errs)
	}
	if st := s.victim.Stats(); st.DroppedOwn != 1 {
		t.Errorf("stats %+v, want 1 own dropped", st)
	}
}

// TestSubscribeContext checks that Subscribe gives up when ctx ends, and
// that the caller can retry.
func TestSubscribeContext(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	b := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: testChannel(t)})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.Subscribe(ctx, newRecorder()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe with a cancelled context: %v, want context.Canceled", err)
	}
	r := subscribe(t, b)
	other := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: b.Channel()})
	barrier(t, other, r)
}
