// Package redisbus implements cache.InvalidationBus on Redis pub/sub
// (github.com/redis/go-redis/v9, any redis.UniversalClient): instances
// that share a Redis layer but keep their own memory and disk layers tell
// each other which local copies to drop.
//
// # Use
//
//	bus, err := redisbus.New(redisbus.Options{Client: rdb, Secret: key})
//	…
//	err = bus.Subscribe(ctx, handler) // returns once Redis confirmed it
//	err = bus.Publish(ctx, cache.BusMessage{Kind: cache.BusDelete, Keys: keys})
//	…
//	err = bus.Close() // stops delivery; rdb stays open
//
// # Concurrency
//
// A Bus is safe for concurrent use. Publish may run from any number of
// goroutines. Subscribe starts exactly one goroutine, owned by the Bus: it
// calls the handler, one call at a time, and Options.OnError. Close stops
// it and waits for it, so nothing is delivered after Close returns; the
// handler therefore must not call Close. A panicking handler is recovered,
// counted (Stats.HandlerPanics) and reported to OnError; delivery goes on.
// The client belongs to the caller and is never closed by the bus.
//
// # Delivery
//
// Redis pub/sub delivers at most once and keeps nothing: a message reaches
// the instances subscribed at the moment it is published, and is lost for
// an instance whose connection is down at that moment. The bus therefore
// watches its connection. Whenever the subscription is restored on a new
// connection (go-redis reconnects by itself after an error; the bus
// replaces a connection that stops answering its health-check PINGs) the
// handler's OnReconnect is called, after the new subscription is active:
// messages may have been missed, and local copies must be dropped. Messages
// from one publisher arrive in the order Redis received them; there is no
// order across publishers. A bus never delivers its own messages.
//
// Large key lists are split by Publish over several messages of at most
// Options.MaxMessageBytes each, delivered (or lost) independently. Delete,
// expire and write messages without keys are not published at all.
//
// # Security
//
// Anyone who can PUBLISH on the Redis server can send invalidations. An
// invalidation only drops local copies, so a forged one costs cache hits
// but never serves wrong data; a flood of forged clears, though, amounts to
// turning local caching off. With Options.Secret set, every message carries
// an HMAC-SHA256 over its whole encoding and the channel name, a
// millisecond timestamp and a random 128-bit ID. A receiving bus drops
// (and counts) messages that are unsigned, wrongly signed, older or
// further in the future than Options.MaxSkew, or whose ID it has already
// accepted within that window, so a captured message cannot be replayed.
// The receiver checks the signature before it believes anything else in
// the message. Messages are authenticated, not encrypted: keys are visible
// to anyone who can SUBSCRIBE. Without a Secret nothing is verified and
// timestamps and IDs are not checked. Options.RequireSignature turns a
// missing Secret into an error at New. Rolling a Secret out to a running
// fleet works in one direction: instances without a Secret accept signed
// messages (they do not check them), instances with one reject unsigned
// messages.
//
// Decoding trusts nothing: sizes are checked before use, a payload larger
// than Options.MaxMessageBytes is dropped unread, and no input makes the
// decoder panic (FuzzDecode).
//
// # Wire format
//
// Version 1 is binary. Integers are big-endian; "uv" is an unsigned varint
// (encoding/binary) in its shortest form, and the decoder rejects longer
// forms, so every message has exactly one encoding.
//
//	version     1 byte   1
//	flags       1 byte   bit 0: signed; the other bits are 0
//	id          16 bytes random nonce, unique per message
//	kind        1 byte   cache.BusKind
//	timestamp   8 bytes  sender's clock, Unix milliseconds (int64)
//	sender      uv length (1 to 255), then the sender's InstanceID
//	generation  uv
//	prefix      uv length, then bytes
//	keys        uv count, then per key: uv length, then bytes
//	mac         32 bytes, only when signed: HMAC-SHA256 keyed with the
//	            Secret over uv(len(channel)) || channel || every byte above
//
// The MAC covers the exact bytes before it, the flags included, so
// stripping it yields an unsigned message, which a signed bus rejects; and
// it covers the channel name, so a message cannot be moved to another
// channel that uses the same Secret. Delete, expire and write messages
// carry at least one key; clear and generation messages carry none.
// Nothing may follow the last field. A future version changes the first
// byte; a bus drops versions it does not know as malformed.
package redisbus
