package redisbus

import "errors"

// ErrClosed is returned by Publish and Subscribe after Close.
var ErrClosed = errors.New("redisbus: bus is closed")

// ErrSubscribed is returned by Subscribe when the bus already has (or is
// setting up) a subscription. A bus delivers to one handler.
var ErrSubscribed = errors.New("redisbus: already subscribed")

// The errors below are wrapped by what Options.OnError receives for a
// dropped incoming message; each one has its own counter in Stats.
var (
	// ErrMalformed: the payload is not a message of a version this bus
	// understands, or breaks the wire format's rules.
	ErrMalformed = errors.New("redisbus: malformed message")
	// ErrUnsigned: the bus has a Secret and the message carries no
	// signature.
	ErrUnsigned = errors.New("redisbus: unsigned message")
	// ErrBadSignature: the message's signature does not verify with the
	// bus's Secret (another key, or the message was altered).
	ErrBadSignature = errors.New("redisbus: bad signature")
	// ErrStale: a signed message's timestamp is further than
	// Options.MaxSkew from the receiver's clock.
	ErrStale = errors.New("redisbus: stale message")
	// ErrReplayed: a signed message's ID was seen before.
	ErrReplayed = errors.New("redisbus: replayed message")
)
