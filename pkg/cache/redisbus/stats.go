package redisbus

import "sync/atomic"

// Stats counts what a Bus did since New. Every message read from the
// channel is counted in Received and in exactly one of Delivered and the
// Dropped counters, so Received == Delivered + Dropped().
type Stats struct {
	// Published is the number of messages Redis accepted from Publish; a
	// BusMessage split into several messages counts each.
	Published uint64
	// Received is the number of messages read from the channel, own and
	// dropped ones included.
	Received uint64
	// Delivered is the number of messages passed to BusHandler.OnMessage.
	Delivered uint64

	// DroppedOwn counts messages this bus published itself.
	DroppedOwn uint64
	// DroppedOversized counts messages larger than Options.MaxMessageBytes.
	DroppedOversized uint64
	// DroppedMalformed counts messages that did not decode (ErrMalformed).
	DroppedMalformed uint64
	// DroppedUnsigned counts unsigned messages received by a bus with a
	// Secret (ErrUnsigned).
	DroppedUnsigned uint64
	// DroppedBadSignature counts messages whose signature did not verify
	// (ErrBadSignature).
	DroppedBadSignature uint64
	// DroppedStale counts signed messages outside Options.MaxSkew
	// (ErrStale).
	DroppedStale uint64
	// DroppedReplayed counts signed messages whose ID was seen before
	// (ErrReplayed).
	DroppedReplayed uint64

	// HandlerPanics counts calls of the handler that panicked. The panic
	// is recovered and reported to Options.OnError; the message counts as
	// delivered.
	HandlerPanics uint64
	// Reconnects counts subscriptions restored after the connection was
	// lost or replaced, each followed by a call of
	// BusHandler.OnReconnect.
	Reconnects uint64
}

// Dropped is the sum of the Dropped counters.
func (s Stats) Dropped() uint64 {
	return s.DroppedOwn + s.DroppedOversized + s.DroppedMalformed + s.DroppedUnsigned +
		s.DroppedBadSignature + s.DroppedStale + s.DroppedReplayed
}

// counters is the live form of Stats.
type counters struct {
	published, received, delivered                             atomic.Uint64
	own, oversized, malformed, unsigned, badSig, stale, replay atomic.Uint64
	panics, reconnects                                         atomic.Uint64
}

// Stats returns a snapshot of the bus's counters. Counters are read one by
// one while messages may arrive, so a snapshot taken during traffic can be
// off by the messages in flight.
func (b *Bus) Stats() Stats {
	c := &b.stats
	return Stats{
		Published:           c.published.Load(),
		Received:            c.received.Load(),
		Delivered:           c.delivered.Load(),
		DroppedOwn:          c.own.Load(),
		DroppedOversized:    c.oversized.Load(),
		DroppedMalformed:    c.malformed.Load(),
		DroppedUnsigned:     c.unsigned.Load(),
		DroppedBadSignature: c.badSig.Load(),
		DroppedStale:        c.stale.Load(),
		DroppedReplayed:     c.replay.Load(),
		HandlerPanics:       c.panics.Load(),
		Reconnects:          c.reconnects.Load(),
	}
}
