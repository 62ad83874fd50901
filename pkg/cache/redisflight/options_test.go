package redisflight

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestOptions_defaults(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}) // never dialled
	defer func() { _ = client.Close() }()
	cfg, err := Options{Client: client}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		Options: Options{
			Client: client, Prefix: DefaultPrefix, Lease: DefaultLease, RenewEvery: DefaultLease / 3,
			WaitTimeout: DefaultWaitTimeout, ResultTTL: DefaultResultTTL, MaxResultBytes: DefaultMaxResultBytes,
		},
		pollEvery: time.Second,
		fenceTTL:  2*DefaultLease + DefaultResultTTL,
	}
	if cfg != want {
		t.Errorf("resolve of zero Options: got %+v, want %+v", cfg, want)
	}

	for _, tc := range []struct {
		lease, poll time.Duration
	}{
		{time.Millisecond, minPollEvery},
		{2 * time.Second, 200 * time.Millisecond},
		{time.Hour, maxPollEvery},
	} {
		cfg, err := Options{Client: client, Lease: tc.lease}.resolve()
		if err != nil || cfg.pollEvery != tc.poll {
			t.Errorf("Lease %s: poll every %s (%v), want %s", tc.lease, cfg.pollEvery, err, tc.poll)
		}
	}
}

func TestOptions_invalid(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}) // never dialled
	defer func() { _ = client.Close() }()
	for _, tc := range []struct {
		name string
		opts Options
		want string // in the error
	}{
		{"no client", Options{}, "Options.Client is required"},
		{"brace in prefix", Options{Client: client, Prefix: "{app}:"}, "Options.Prefix"},
		{"negative lease", Options{Client: client, Lease: -time.Second}, "Options.Lease"},
		{"sub-millisecond lease", Options{Client: client, Lease: time.Microsecond}, "Options.Lease"},
		{"negative renewal", Options{Client: client, RenewEvery: -time.Second}, "Options.RenewEvery"},
		{"renewal not shorter than lease", Options{Client: client, Lease: time.Second, RenewEvery: time.Second}, "Options.RenewEvery"},
		{"renewal beyond default lease", Options{Client: client, RenewEvery: time.Minute}, "Options.RenewEvery"},
		{"negative wait", Options{Client: client, WaitTimeout: -1}, "Options.WaitTimeout"},
		{"negative result TTL", Options{Client: client, ResultTTL: -1}, "Options.ResultTTL"},
		{"sub-millisecond result TTL", Options{Client: client, ResultTTL: time.Nanosecond}, "Options.ResultTTL"},
		{"negative max result", Options{Client: client, MaxResultBytes: -1}, "Options.MaxResultBytes"},
	} {
		_, err := New(tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "redisflight: ") {
			t.Errorf("%s: New(%+v) = %v, want an error naming %s", tc.name, tc.opts, err, tc.want)
		}
	}
}
