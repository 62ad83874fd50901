package agenttest

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/layercache/layercache/pkg/agent"
)

// Running is an agent Start started.
type Running struct {
	Agent *agent.Agent
	// DataAddr, AdminAddr and ProbeAddr are the loopback addresses
	// ("127.0.0.1:port") of its three servers.
	DataAddr, AdminAddr, ProbeAddr string
	// Stop stops the agent and waits for Start to return, failing the test
	// if it returned an error. It is idempotent; Start registers it with
	// t.Cleanup.
	Stop func()
}

// Start runs an agent with opts on three fresh loopback listeners (any
// listeners or addresses in opts are replaced) until the test ends. The
// listeners are open before it returns, so the agent answers as soon as it
// has built its cache.
func Start(t testing.TB, opts agent.Options) *Running {
	t.Helper()
	r := &Running{}
	opts.DataListener, r.DataAddr = listen(t)
	opts.AdminListener, r.AdminAddr = listen(t)
	opts.ProbeListener, r.ProbeAddr = listen(t)
	a, err := agent.New(opts)
	if err != nil {
		t.Fatalf("agent.New: %v", err)
	}
	r.Agent = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Start(ctx) }()
	var once sync.Once
	r.Stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent.Start returned %v", err)
			}
		})
	}
	t.Cleanup(r.Stop)
	return r
}

func listen(t testing.TB) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, ln.Addr().String()
}
