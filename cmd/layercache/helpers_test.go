package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/codec"
	"github.com/layercache/layercache/pkg/cache/compress"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/redisbus"
	"github.com/layercache/layercache/pkg/cache/rediscache"
	"github.com/layercache/layercache/pkg/cache/redistags"
)

// TestMain shares one redis-server between the tests and fails them if any
// goroutine outlives them.
func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // as main does
	goleak.VerifyTestMain(redistest.Wrap(m))
}

// waitFor bounds every wait for something asynchronous (a bus delivery).
const waitFor = 10 * time.Second

// layerPrefix holds every glob metacharacter Redis knows, so that a SCAN
// that forgot to escape it would find nothing (or the decoy below).
const layerPrefix = `app[*]?\:`

// user is the value the tests cache.
type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Bio  string `json:"bio,omitempty"`
}

// fixture is one application's Redis layer, in a database of its own.
type fixture struct {
	client    *redis.Client
	url       string // of the database, for --redis
	tagPrefix string // of the Redis tag index
	channel   string // of the invalidation bus
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := redistest.Shared(t)
	client := srv.NewDB(t)
	base := redistest.Prefix(t)
	return &fixture{
		client:    client,
		url:       redisURL(client.Options()),
		tagPrefix: base + "tags:",
		channel:   base + "bus", // channels are not scoped by database
	}
}

// redisURL is the URL of the server and database o connects to.
func redisURL(o *redis.Options) string {
	u := url.URL{Scheme: "redis", Host: o.Addr, Path: "/" + strconv.Itoa(o.DB)}
	if o.TLSConfig != nil {
		u.Scheme = "rediss"
	}
	if o.Password != "" {
		u.User = url.UserPassword(o.Username, o.Password)
	}
	return u.String()
}

// stackOptions configure one instance of the application.
type stackOptions struct {
	clock cache.Clock           // nil: the system clock
	bus   cache.InvalidationBus // nil: none
}

// newStack returns an instance of the application: memory in front of the
// Redis layer (layerPrefix, zstd above 128 bytes), MessagePack, the Redis
// tag index, a one-hour TTL and negative caching.
func newStack(t *testing.T, client redis.UniversalClient, tagPrefix string, o stackOptions) (*cache.Stack, *cache.View[user]) {
	t.Helper()
	mem, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := rediscache.New(rediscache.Options{
		Client:      client,
		Prefix:      layerPrefix,
		Compression: compress.Options{Algorithm: compress.Zstd, Threshold: 128},
	})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := redistags.New(redistags.Options{Client: client, Prefix: tagPrefix})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := cache.New(ctx, []cache.Layer{mem, l2}, cache.Options{
		Codec:       codec.MessagePack{},
		TagIndex:    idx,
		TTL:         time.Hour,
		NegativeTTL: time.Hour,
		Clock:       o.clock,
		Bus:         o.bus,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(ctx); err != nil {
			t.Errorf("close stack: %v", err)
		}
	})
	return s, cache.Typed[user](s)
}

// fixedClock is a cache.Clock stopped at one instant.
type fixedClock int64

func (c fixedClock) NowNano() int64 { return int64(c) }

// seed writes the application's entries, through real Stacks:
//
//	user:1    small, tagged users
//	user:2    large (zstd-compressed), tagged users and vip
//	order:1   30 s TTL
//	missing:1 negative (the fetcher said not found)
//	old:1     written two hours ago with a 1 h TTL and 3 h of
//	          stale-while-revalidate: stale now
//
// and, behind the Stack's back, under the layer prefix: junk (a string that
// is no envelope) and list (a list); outside it: other:key and a decoy that
// an unescaped SCAN pattern would match.
func (f *fixture) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	_, users := newStack(t, f.client, f.tagPrefix, stackOptions{})
	must(t, users.Set(ctx, "user:1", user{ID: 1, Name: "Ada"}, cache.Tags("users")))
	must(t, users.Set(ctx, "user:2", user{ID: 2, Name: "Grace", Bio: strings.Repeat("compilers ", 100)},
		cache.Tags("users", "vip")))
	must(t, users.Set(ctx, "order:1", user{ID: 3}, cache.TTL(30*time.Second)))
	_, err := users.Get(ctx, "missing:1", func(context.Context) (user, error) { return user{}, cache.ErrNotFound })
	if !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get of an absent user = %v, want ErrNotFound", err)
	}
	past := fixedClock(time.Now().Add(-2 * time.Hour).UnixNano())
	_, oldUsers := newStack(t, f.client, f.tagPrefix, stackOptions{clock: past})
	must(t, oldUsers.Set(ctx, "old:1", user{ID: 4}, cache.TTL(time.Hour), cache.StaleWhileRevalidate(3*time.Hour)))

	must(t, f.client.Set(ctx, layerPrefix+"junk", "not an envelope", 0).Err())
	must(t, f.client.RPush(ctx, layerPrefix+"list", "a").Err())
	must(t, f.client.Set(ctx, "other:key", "x", 0).Err())
	must(t, f.client.Set(ctx, "app*Z:decoy", "x", 0).Err())
}

// seededKeys returns the cache keys seed leaves under the layer prefix,
// sorted.
func seededKeys() []string {
	return []string{"junk", "list", "missing:1", "old:1", "order:1", "user:1", "user:2"}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// result is what one run of the command printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the command line args in process.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

// cli runs command against the fixture's database and layer prefix.
func (f *fixture) cli(t *testing.T, command string, args ...string) result {
	t.Helper()
	return cli(t, append([]string{command, "--redis", f.url, "--prefix", layerPrefix}, args...)...)
}

// ok fails t unless the run exited 0.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != exitOK {
		t.Fatalf("exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return r
}

// decode parses the run's JSON output into v.
func (r result) decode(t *testing.T, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("output is not the expected JSON: %v\n%s", err, r.stdout)
	}
}

var cellSep = regexp.MustCompile(`\s{2,}`)

// rows parses a FIELD/VALUE table into a map.
func (r result) rows(t *testing.T) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "FIELD ") {
		t.Fatalf("output is not a FIELD/VALUE table:\n%s", r.stdout)
	}
	m := make(map[string]string)
	for _, l := range lines[1:] {
		cells := cellSep.Split(strings.TrimSpace(l), 2)
		if len(cells) != 2 {
			t.Fatalf("table row %q has no value:\n%s", l, r.stdout)
		}
		m[cells[0]] = cells[1]
	}
	return m
}

// subscriber collects what an invalidation bus delivers.
type subscriber struct{ msgs chan cache.BusMessage }

func (s subscriber) OnMessage(m cache.BusMessage) { s.msgs <- m }
func (subscriber) OnReconnect()                   {}

// subscribe listens on the fixture's channel (signed with secret when it is
// not nil) until the test ends.
func (f *fixture) subscribe(t *testing.T, secret []byte) <-chan cache.BusMessage {
	t.Helper()
	bus, err := redisbus.New(redisbus.Options{Client: f.client, Channel: f.channel, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s := subscriber{msgs: make(chan cache.BusMessage, 64)}
	if err := bus.Subscribe(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bus.Close(); err != nil {
			t.Errorf("close bus: %v", err)
		}
	})
	return s.msgs
}

// waitAfter returns a channel that fires when a wait has lasted too long.
func waitAfter() <-chan time.Time { return time.After(waitFor) }

// next returns the next message from msgs, failing t after waitFor.
func next(t *testing.T, msgs <-chan cache.BusMessage) cache.BusMessage {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-waitAfter():
		t.Fatalf("no bus message within %s", waitFor)
		return cache.BusMessage{}
	}
}

// exists reports which of the cache keys Redis holds under the layer prefix.
func (f *fixture) exists(t *testing.T, keys ...string) map[string]bool {
	t.Helper()
	m := make(map[string]bool)
	for _, k := range keys {
		n, err := f.client.Exists(context.Background(), layerPrefix+k).Result()
		must(t, err)
		m[k] = n == 1
	}
	return m
}
