package redisbus

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults applied by New to zero-valued Options fields, and limits it
// enforces.
const (
	// DefaultChannel is Options.Channel when it is empty.
	DefaultChannel = "layercache:invalidation"
	// DefaultMaxSkew is Options.MaxSkew when it is 0.
	DefaultMaxSkew = 30 * time.Second
	// DefaultMaxRememberedIDs is Options.MaxRememberedIDs when it is 0.
	DefaultMaxRememberedIDs = 100_000
	// DefaultMaxMessageBytes is Options.MaxMessageBytes when it is 0.
	DefaultMaxMessageBytes = 1 << 20
	// DefaultHealthCheckInterval is Options.HealthCheckInterval when it
	// is 0.
	DefaultHealthCheckInterval = 3 * time.Second

	// MinMessageBytes is the smallest Options.MaxMessageBytes New accepts:
	// room for the header, a full-length InstanceID, the signature and a
	// few keys.
	MinMessageBytes = 1 << 10
	// MaxInstanceIDBytes is the longest Options.InstanceID.
	MaxInstanceIDBytes = 255
)

// Options configures a Bus. Only Client is required. New does not modify
// the Options and keeps no reference to Secret's backing array.
type Options struct {
	// Client publishes and subscribes: a *redis.Client, a failover
	// (Sentinel) client or a *redis.ClusterClient (classic pub/sub reaches
	// every node of a Cluster); a *redis.Ring is rejected, because it
	// panics when no shard is up. It belongs to the caller: the bus never
	// closes it, and it must stay open until the bus is closed. The
	// subscription takes one dedicated connection of its own.
	//
	// default: none (required)
	Client redis.UniversalClient

	// Channel is the Redis pub/sub channel. Instances that share local
	// invalidations must use the same channel; unrelated applications on
	// one Redis must use different ones (channels are not scoped by
	// database number).
	//
	// default: "layercache:invalidation"
	Channel string

	// Secret is the HMAC-SHA256 key shared by every instance on the
	// channel. When it is set, Publish signs every message and the bus
	// delivers only messages that carry a valid signature, a timestamp
	// within MaxSkew and an ID not seen before (see MaxRememberedIDs);
	// everything else is dropped and counted. Use at least 32 random
	// bytes. A non-nil Secret of length zero is an error, so an empty
	// value read from configuration never turns signing off quietly.
	//
	// default: nil (messages are neither signed nor verified)
	Secret []byte

	// RequireSignature makes New fail when Secret is nil. It guards
	// deployments that must never run unsigned against a missing secret.
	// It does not change how messages are checked: with a Secret, unsigned
	// and wrongly signed messages are always rejected, whatever this field
	// says.
	//
	// default: false
	RequireSignature bool

	// MaxSkew bounds the age of a signed message: one whose timestamp is
	// further than MaxSkew in the past or in the future of the receiver's
	// clock is dropped as stale. The instances' clocks must agree to well
	// within MaxSkew. It applies only with a Secret (without one, anyone
	// who can publish can forge a timestamp).
	//
	// default: 30 seconds
	MaxSkew time.Duration

	// MaxRememberedIDs bounds the replay filter: the bus remembers the ID
	// of every signed message it accepted until the message's timestamp
	// is older than MaxSkew, and drops a message whose ID it remembers.
	// When more IDs than this are live, the oldest are forgotten early,
	// so a message replayed after more than MaxRememberedIDs newer ones
	// (within MaxSkew) would pass; size it above the peak message rate
	// times MaxSkew. Each remembered ID costs under 100 bytes.
	//
	// default: 100000
	MaxRememberedIDs int

	// InstanceID identifies this bus in the messages it publishes; a bus
	// drops messages that carry its own ID. It must be unique among the
	// instances on the channel and at most 255 bytes.
	//
	// default: 128 random bits, base32-encoded
	InstanceID string

	// MaxMessageBytes is the largest message, in bytes on the wire, that
	// the bus publishes or accepts. Publish splits the keys of a larger
	// BusMessage over several messages; incoming messages above the limit
	// are dropped, so every instance on the channel must use the same
	// value (or a receiver a larger one). At least MinMessageBytes.
	//
	// default: 1 MiB
	MaxMessageBytes int

	// HealthCheckInterval is how long the subscription may stay silent
	// before the bus sends a PING on it, and how long that PING may stay
	// unanswered before the bus declares the connection dead, replaces it
	// and reports a reconnect (BusHandler.OnReconnect).
	//
	// default: 3 seconds
	HealthCheckInterval time.Duration

	// OnError, when set, is told about problems the bus handles by itself:
	// dropped messages (the error wraps ErrMalformed, ErrUnsigned,
	// ErrBadSignature, ErrStale, ErrReplayed or cache.ErrTooLarge), a
	// lost connection, a panicking handler. It is called from the bus's
	// goroutine, so it must return quickly and must not call Close.
	// Errors of Publish and Subscribe are returned to their callers, not
	// reported here.
	//
	// default: nil (such problems are only counted; see Stats)
	OnError func(error)

	// Now is the clock used for timestamps, to facilitate testing.
	//
	// default: time.Now
	Now func() time.Time
}

// config is Options after defaults and validation.
type config struct {
	Options
	secret []byte // copy of Options.Secret
}

// resolve applies defaults and validates o. It never adjusts a value the
// caller set; an invalid one is an error naming the field.
func (o Options) resolve() (config, error) {
	if o.Client == nil {
		return config{}, errors.New("redisbus: Options.Client is required")
	}
	if _, ok := o.Client.(*redis.Ring); ok {
		// A Ring spreads channels over its shards and panics when it
		// cannot pick one; use a Client or ClusterClient of one server.
		return config{}, errors.New("redisbus: Options.Client is a *redis.Ring, which is not supported")
	}
	if o.Channel == "" {
		o.Channel = DefaultChannel
	}
	if o.Secret != nil && len(o.Secret) == 0 {
		return config{}, errors.New("redisbus: Options.Secret is empty; leave it nil to turn signing off")
	}
	if o.RequireSignature && o.Secret == nil {
		return config{}, errors.New("redisbus: Options.RequireSignature is set but Options.Secret is nil")
	}
	if o.InstanceID == "" {
		o.InstanceID = rand.Text()
	}
	if len(o.InstanceID) > MaxInstanceIDBytes {
		return config{}, fmt.Errorf("redisbus: Options.InstanceID is %d bytes, at most %d allowed",
			len(o.InstanceID), MaxInstanceIDBytes)
	}
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"MaxSkew", &o.MaxSkew, DefaultMaxSkew},
		{"HealthCheckInterval", &o.HealthCheckInterval, DefaultHealthCheckInterval},
	} {
		if *f.v < 0 {
			return config{}, fmt.Errorf("redisbus: Options.%s is %s, must not be negative", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if o.MaxSkew < time.Millisecond {
		return config{}, fmt.Errorf("redisbus: Options.MaxSkew is %s, timestamps have millisecond resolution", o.MaxSkew)
	}
	for _, f := range []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxRememberedIDs", &o.MaxRememberedIDs, DefaultMaxRememberedIDs},
		{"MaxMessageBytes", &o.MaxMessageBytes, DefaultMaxMessageBytes},
	} {
		if *f.v < 0 {
			return config{}, fmt.Errorf("redisbus: Options.%s is %d, must not be negative", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if o.MaxMessageBytes < MinMessageBytes {
		return config{}, fmt.Errorf("redisbus: Options.MaxMessageBytes is %d, at least %d needed",
			o.MaxMessageBytes, MinMessageBytes)
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := config{Options: o}
	if o.Secret != nil {
		c.secret = append([]byte(nil), o.Secret...)
		c.Secret = nil // only the copy is used
	}
	return c, nil
}
