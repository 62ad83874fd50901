package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// How long the server may take to start and to stop.
const (
	redisStartTimeout = 10 * time.Second
	redisStopTimeout  = 10 * time.Second
)

// redisServer is a loopback redis-server process with persistence off.
type redisServer struct {
	addr   string
	dir    string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
}

// startRedis starts redis-server on a free loopback port and waits until it
// answers PING.
func startRedis() (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not on PATH (%v): run `make redis` in the repository root", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr, ok := l.Addr().(*net.TCPAddr)
	if err := l.Close(); err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("listener address %v is not TCP", l.Addr())
	}
	port := addr.Port
	dir, err := os.MkdirTemp("", "layercache-bench-redis-")
	if err != nil {
		return nil, err
	}
	s := &redisServer{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--databases", "16")
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	go func() {
		_ = s.cmd.Wait() // the exit status tells nothing useful
		close(s.exited)
	}()
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls PING until the server answers, the process exits or the
// start timeout passes.
func (s *redisServer) waitReady() error {
	c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer func() { _ = c.Close() }() // only idle connections to release
	ctx, cancel := context.WithTimeout(context.Background(), redisStartTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return errors.New("redis-server exited during startup")
		case <-ctx.Done():
			return fmt.Errorf("redis-server on %s did not answer within %s: %w", s.addr, redisStartTimeout, err)
		case <-tick.C:
		}
	}
}

// stop terminates the server (SIGTERM, then SIGKILL) and removes its files.
func (s *redisServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM) // fails only if it already exited
	select {
	case <-s.exited:
	case <-time.After(redisStopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	_ = os.RemoveAll(s.dir)
}

// shared is the test binary's server, started on first use and stopped by
// TestMain, which owns its lifetime.
var shared struct {
	once sync.Once
	srv  *redisServer
	err  error
	db   int // the last database handed out
	mu   sync.Mutex
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.stop()
	}
	os.Exit(code)
}

// newRedis returns a client for an empty database of the shared server
// that no other test or benchmark of this run uses, closed when tb ends.
func newRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	shared.once.Do(func() { shared.srv, shared.err = startRedis() })
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	shared.mu.Lock()
	shared.db = shared.db%15 + 1 // databases 1..15, reused round robin
	db := shared.db
	shared.mu.Unlock()
	c := redis.NewClient(&redis.Options{Addr: shared.srv.addr, DB: db})
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
