package agent_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
	"github.com/layercache/layercache/pkg/agent/agenttest"
)

// running is an agent a test started, with clients for its APIs.
type running struct {
	agent     *agent.Agent
	dataAddr  string
	adminAddr string
	probeAddr string
	data      *agentclient.Data
	admin     *agentclient.Admin
	pki       *agenttest.PKI // nil for an insecure admin API
	stop      func()
}

// startAgent starts an agent with opts on loopback listeners, with mTLS
// (unless opts.InsecureAdmin), and stops it when t ends, failing t if
// Start returned an error.
func startAgent(t *testing.T, opts agent.Options) *running {
	t.Helper()
	r := &running{}
	if !opts.InsecureAdmin && opts.AdminTLS == nil {
		r.pki = agenttest.NewPKI(t)
		opts.AdminTLS = r.pki.Server
	}
	if opts.AdminTLS != nil && r.pki == nil {
		t.Fatal("startAgent: pass the PKI through r.pki, not AdminTLS")
	}
	ra := agenttest.Start(t, opts)
	r.agent, r.stop = ra.Agent, ra.Stop
	r.dataAddr, r.adminAddr, r.probeAddr = ra.DataAddr, ra.AdminAddr, ra.ProbeAddr
	r.data = agentclient.NewData(r.dataAddr, nil)
	t.Cleanup(r.data.Close)
	r.admin = agentclient.NewAdmin(r.adminAddr, r.clientTLS(), nil)
	t.Cleanup(r.admin.Close)
	// The listeners are open before Start runs, and Start builds the
	// cache before it serves: the first answer means the agent is up.
	if _, err := r.admin.Status(context.Background()); err != nil {
		t.Fatalf("first status call: %v", err)
	}
	return r
}

// clientTLS is the operator's TLS configuration (nil for plain HTTP).
func (r *running) clientTLS() *tls.Config {
	if r.pki == nil {
		return nil
	}
	return agentclient.TLSConfig(r.pki.CA.Pool, r.pki.ClientCert)
}

// waitFor polls cond until it holds, failing t after 10 seconds. Tests use
// it for effects with no event to wait on (a server starting to accept).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// origin is an upstream server of JSON values that counts its calls.
type origin struct {
	srv   *httptest.Server
	calls atomic.Int64
	// gate, when set, holds every request until it is closed.
	gate chan struct{}
}

// newOrigin serves "/users/<id>" as {"id": "<id>"}; ids starting with
// "missing" are 404, "broken" are 500.
func newOrigin(t *testing.T, gate chan struct{}) *origin {
	t.Helper()
	o := &origin{gate: gate}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.calls.Add(1)
		if o.gate != nil {
			select {
			case <-o.gate:
			case <-r.Context().Done():
				return
			}
		}
		id := strings.TrimPrefix(r.URL.Path, "/users/")
		switch {
		case strings.HasPrefix(id, "missing"):
			http.NotFound(w, r)
		case strings.HasPrefix(id, "broken"):
			http.Error(w, "boom", http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"id": id})
		}
	}))
	t.Cleanup(o.srv.Close)
	return o
}

// usersOrigin is a policy origin mapping "user:*" to o.
func (o *origin) usersOrigin() agentapi.Origin {
	return agentapi.Origin{KeyPattern: "user:*", URLTemplate: o.srv.URL + "/users/{1}", Tags: []string{"users"}}
}

// mustCode fails t unless err is an agent error with code.
func mustCode(t *testing.T, err error, code agentapi.ErrorCode) {
	t.Helper()
	var e *agentclient.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error = %v; want agent error code %s", err, code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
