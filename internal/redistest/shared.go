package redistest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the environment variable that points Shared at an existing,
// disposable Redis server (a redis:// or rediss:// URL, as redis.ParseURL
// accepts) instead of a started one.
const EnvURL = "LAYERCACHE_TEST_REDIS_URL"

// shared is the test binary's shared server. It is package state because
// TestMain, which owns its lifetime, is process-wide too.
var shared struct {
	mu      sync.Mutex // protects the fields below
	running bool       // inside Wrap(m).Run
	srv     *Server
	err     error  // why the server could not be set up; reported to every caller
	dir     string // temporary directory of a started server
}

// M wraps a *testing.M so that the shared server lives exactly as long as
// the package's tests. It satisfies goleak.TestingM.
type M struct{ m *testing.M }

// Wrap returns m with the shared server's lifetime attached, for
// goleak.VerifyTestMain(redistest.Wrap(m)): the server is stopped before
// goleak looks for leaked goroutines.
func Wrap(m *testing.M) *M { return &M{m: m} }

// Run runs the tests, then stops the shared server if one was started and
// removes its files. It returns the exit code, set to 1 if stopping failed.
func (w *M) Run() int {
	shared.mu.Lock()
	shared.running = true
	shared.mu.Unlock()

	code := w.m.Run()

	shared.mu.Lock()
	srv, dir := shared.srv, shared.dir
	shared.running, shared.srv, shared.err, shared.dir = false, nil, nil, ""
	shared.mu.Unlock()
	if srv != nil {
		if err := srv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintln(os.Stderr, "redistest:", err)
		}
	}
	return code
}

// Main runs the package's tests with a shared server and exits with their
// status. Call it from TestMain when goleak is not used.
func Main(m *testing.M) { os.Exit(Wrap(m).Run()) }

// Shared returns the test binary's shared server, starting it on first use
// (or connecting to LAYERCACHE_TEST_REDIS_URL). Tests that use it must
// isolate their data with Prefix or NewDB and must not stop it. It fails tb
// when TestMain does not run the tests through Main or Wrap, and when the
// server cannot be set up.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.running {
		tb.Fatal("redistest: Shared needs TestMain to run the tests through redistest.Main(m) " +
			"or goleak.VerifyTestMain(redistest.Wrap(m)), which stop the shared server")
	}
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.dir, shared.err = setUpShared()
	}
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.srv
}

func setUpShared() (*Server, string, error) {
	if url := os.Getenv(EnvURL); url != "" {
		s, err := external(url)
		return s, "", err
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, "", fmt.Errorf("redistest: %w", err)
	}
	s, err := startLocal(dir, false)
	if err != nil {
		_ = os.RemoveAll(dir) // best effort; the start error matters more
		return nil, "", err
	}
	s.shared = true
	return s, dir, nil
}

// external checks that the server at url answers and returns it.
func external(url string) (*Server, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redistest: %s: %w", EnvURL, err)
	}
	check := *o
	check.MaxRetries, check.DialerRetries = -1, 1 // answer now or never: no retries
	c := redis.NewClient(&check)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	err = c.Ping(ctx).Err()
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("redistest: %s=%s does not answer: %w", EnvURL, url, err)
	}
	return &Server{addr: o.Addr, url: url}, nil
}
