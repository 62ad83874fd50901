package redisbus_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache/redisbus"
)

func TestNewRejects(t *testing.T) {
	t.Parallel()
	client := redistest.Shared(t).NewClient(t)
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": redistest.Shared(t).Addr()}})
	t.Cleanup(func() { _ = ring.Close() })
	for _, tc := range []struct {
		opts  redisbus.Options
		field string // named in the error
	}{
		{redisbus.Options{}, "Client"},
		{redisbus.Options{Client: ring}, "Client"},
		{redisbus.Options{Client: client, Secret: []byte{}}, "Secret"},
		{redisbus.Options{Client: client, RequireSignature: true}, "RequireSignature"},
		{redisbus.Options{Client: client, InstanceID: strings.Repeat("i", 256)}, "InstanceID"},
		{redisbus.Options{Client: client, MaxSkew: -time.Second}, "MaxSkew"},
		{redisbus.Options{Client: client, MaxSkew: time.Microsecond}, "MaxSkew"},
		{redisbus.Options{Client: client, HealthCheckInterval: -1}, "HealthCheckInterval"},
		{redisbus.Options{Client: client, MaxRememberedIDs: -1}, "MaxRememberedIDs"},
		{redisbus.Options{Client: client, MaxMessageBytes: -1}, "MaxMessageBytes"},
		{redisbus.Options{Client: client, MaxMessageBytes: redisbus.MinMessageBytes - 1}, "MaxMessageBytes"},
	} {
		b, err := redisbus.New(tc.opts)
		if err == nil {
			_ = b.Close()
			t.Errorf("New(%+v) succeeded, want an error naming %s", tc.opts, tc.field)
			continue
		}
		if !strings.Contains(err.Error(), "Options."+tc.field) || !strings.HasPrefix(err.Error(), "redisbus: ") {
			t.Errorf("New(%+v) error %q does not name Options.%s", tc.opts, err, tc.field)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	client := redistest.Shared(t).NewClient(t)
	a := newBus(t, redisbus.Options{Client: client})
	b := newBus(t, redisbus.Options{Client: client, Secret: []byte("k"), RequireSignature: true})
	if a.Channel() != redisbus.DefaultChannel {
		t.Errorf("Channel() = %q, want %q", a.Channel(), redisbus.DefaultChannel)
	}
	if a.InstanceID() == "" || a.InstanceID() == b.InstanceID() {
		t.Errorf("instance IDs %q and %q, want two distinct random ones", a.InstanceID(), b.InstanceID())
	}
	if c := newBus(t, redisbus.Options{Client: client, InstanceID: "pod-1"}); c.InstanceID() != "pod-1" {
		t.Errorf("InstanceID() = %q, want pod-1", c.InstanceID())
	}
}

// TestNewCopiesSecret checks that changing the caller's slice after New
// does not change the key: a peer built with the original still verifies.
func TestNewCopiesSecret(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	ch := testChannel(t)
	secret := []byte("original")
	a := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, Secret: secret})
	copy(secret, "tampered") // the caller reuses its slice after New
	b := newBus(t, redisbus.Options{Client: srv.NewClient(t), Channel: ch, Secret: []byte("original")})
	barrier(t, a, subscribe(t, b))
}
