package redistest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// startTimeout bounds the wait for a new server to answer.
	startTimeout = 10 * time.Second
	// stopTimeout bounds the wait for a server to exit after SIGTERM
	// before it is killed.
	stopTimeout = 10 * time.Second
	// pollInterval is how often a starting server is probed.
	pollInterval = 10 * time.Millisecond
	// databases is how many logical databases a started server has.
	databases = 64
	// pingDeadline bounds the housekeeping commands this package sends.
	pingDeadline = 5 * time.Second
	// portAttempts is how often Start retries when another process took
	// the port it picked.
	portAttempts = 5
)

// errPortTaken reports that the picked port was taken by another process
// before the server could bind it.
var errPortTaken = errors.New("redistest: port taken")

// Server is a Redis server used by tests: a redis-server process this
// package started (Start, or Shared without LAYERCACHE_TEST_REDIS_URL), or
// the external server named by that variable.
type Server struct {
	addr     string // host:port
	url      string // set for an external server
	shared   bool   // the package-wide server of Shared: never stopped by a test
	bin, dir string // redis-server binary and its working directory
	busPort  int    // cluster bus port in cluster mode, else 0

	mu   sync.Mutex // protects proc
	proc *process   // nil when stopped, and for an external server

	dbs dbPool
}

// process is one run of redis-server. Its waiter goroutine ends when the
// process exits; stop waits for that.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait has returned
}

// Start runs a new redis-server for tb on a free loopback port, with no
// persistence and its files in tb.TempDir(), and stops it when tb ends. It
// always starts its own process (LAYERCACHE_TEST_REDIS_URL is not used), so
// Stop and Restart work on it; a missing redis-server fails tb with a message
// saying to run `make test`.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := startLocal(tb.TempDir(), false)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// startLocal starts redis-server with its files in dir, as a cluster node
// when cluster is set, retrying with other ports when a concurrent process
// takes one it picked.
func startLocal(dir string, cluster bool) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redistest: redis-server is not on PATH (%v): run `make test`, which installs it, "+
			"or set %s to a disposable Redis server", err, EnvURL)
	}
	for range portAttempts {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: bin, dir: dir}
		// The default bus port, port+10000, may lie beyond 65535 for an
		// ephemeral port, so pick the bus port too.
		for cluster && (s.busPort == 0 || s.busPort == port) {
			if s.busPort, err = freePort(); err != nil {
				return nil, err
			}
		}
		err = s.launch()
		if errors.Is(err, errPortTaken) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("redistest: no free port after %d attempts", portAttempts)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("redistest: pick a port: %w", err)
	}
	addr, ok := l.Addr().(*net.TCPAddr)
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("redistest: pick a port: %w", err)
	}
	if !ok {
		return 0, fmt.Errorf("redistest: pick a port: listener address %v is not TCP", l.Addr())
	}
	return addr.Port, nil
}

// launch starts redis-server on s.addr and waits until it answers as
// itself (its INFO process_id is the child's pid, not another server that
// grabbed the port).
func (s *Server) launch() error {
	_, port, _ := net.SplitHostPort(s.addr)
	logPath := filepath.Join(s.dir, "redis-"+port+".log")
	args := []string{
		"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", s.dir, "--logfile", logPath,
		"--databases", strconv.Itoa(databases),
	}
	if s.busPort != 0 {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(s.busPort), "--cluster-node-timeout", "2000")
	}
	cmd := exec.Command(s.bin, args...)
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status of a test server tells nothing useful
		close(p.exited)
	}()

	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		pid, err := probePID(s.addr)
		switch {
		case err == nil && pid == cmd.Process.Pid:
			s.mu.Lock()
			s.proc = p
			s.mu.Unlock()
			return nil
		case err == nil: // someone else's server answers on our port
			p.kill()
			return errPortTaken
		}
		select {
		case <-p.exited:
			log := logTail(logPath)
			if strings.Contains(log, "already in use") {
				return errPortTaken
			}
			return fmt.Errorf("redistest: redis-server on %s exited during startup; log:\n%s", s.addr, log)
		case <-deadline.C:
			p.kill()
			return fmt.Errorf("redistest: redis-server on %s did not answer within %s (last probe: %v); log:\n%s",
				s.addr, startTimeout, err, logTail(logPath))
		case <-tick.C:
		}
	}
}

// kill ends the process at once and waits for it.
func (p *process) kill() {
	_ = p.cmd.Process.Kill() // fails only if it already exited, which is the goal
	<-p.exited
}

func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const tail = 4 << 10
	if len(b) > tail {
		b = b[len(b)-tail:]
	}
	return string(b)
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Options returns new client options for database 0 of the server (for an
// external server: those parsed from its URL). Callers may modify them.
func (s *Server) Options() *redis.Options {
	if s.url != "" {
		o, err := redis.ParseURL(s.url) // parsed successfully when the server was set up
		if err == nil {
			return o
		}
	}
	return &redis.Options{Addr: s.addr}
}

// Stop shuts the server down (SIGTERM, then SIGKILL after 10 s) and waits
// for the process to exit. Stopping a stopped server does nothing. It fails
// tb for the shared server and for an external one, which other tests use.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.controllable(); err != nil {
		tb.Fatal(err)
	}
	if err := s.stop(); err != nil {
		tb.Fatal(err)
	}
}

// Restart stops the server if it runs and starts a new process on the same
// address. The new server is empty: there is no persistence. Clients
// reconnect by themselves. It fails tb for the shared server and for an
// external one, and when the port was taken in the meantime.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.controllable(); err != nil {
		tb.Fatal(err)
	}
	if err := s.stop(); err != nil {
		tb.Fatal(err)
	}
	if err := s.launch(); err != nil {
		tb.Fatalf("redistest: restart on %s: %v", s.addr, err)
	}
}

func (s *Server) controllable() error {
	switch {
	case s.url != "":
		return fmt.Errorf("redistest: cannot stop or restart the external server %s; use Start", s.addr)
	case s.shared:
		return errors.New("redistest: cannot stop or restart the shared server, other tests use it; use Start")
	}
	return nil
}

// stop ends the process, if any. It is safe to call more than once.
func (s *Server) stop() error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.kill()
		return nil
	}
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
		return nil
	case <-t.C:
		p.kill()
		return fmt.Errorf("redistest: redis-server on %s ignored SIGTERM for %s and was killed", s.addr, stopTimeout)
	}
}
