package agentapi_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// example is the policy document of the package documentation's example.
func example(t *testing.T) agentapi.Policy {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	p, err := agentapi.Decode[agentapi.Policy](f, agentapi.MaxPolicyBytes)
	if err != nil {
		t.Fatalf("decode testdata/policy.json: %v", err)
	}
	return p
}

func TestExamplePolicyIsValid(t *testing.T) {
	t.Parallel()
	p := example(t)
	if err := p.Validate(); err != nil {
		t.Fatalf("testdata/policy.json: %v", err)
	}
	if p.Freshness.TTL.Std() != 5*time.Minute || p.Layers.Redis.Breaker.OpenFor.Std() != 30*time.Second {
		t.Fatalf("durations decoded as %v and %v", p.Freshness.TTL, p.Layers.Redis.Breaker.OpenFor)
	}
}

func TestPolicyValidateNamesFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		edit  func(p *agentapi.Policy)
		field string
	}{
		{"negative generation", func(p *agentapi.Policy) { p.Generation = -1 }, "generation"},
		{"wrong hash", func(p *agentapi.Policy) { p.Hash = "sha256:00" }, "hash"},
		{"negative memory", func(p *agentapi.Policy) { p.Layers.Memory.MaxBytes = -1 }, "layers.memory.maxBytes"},
		{"negative ttl", func(p *agentapi.Policy) { p.Freshness.TTL = -1 }, "freshness.ttl"},
		{"redis addr", func(p *agentapi.Policy) { p.Layers.Redis.Addr = "no-port" }, "layers.redis.addr"},
		{"redis prefix", func(p *agentapi.Policy) { p.Layers.Redis.Prefix = "" }, "layers.redis.prefix"},
		{"relative password", func(p *agentapi.Policy) { p.Layers.Redis.PasswordFile = "pw" }, "layers.redis.passwordFile"},
		{"compression", func(p *agentapi.Policy) { p.Layers.Redis.Compression = "lz4" }, "layers.redis.compression"},
		{"ratio", func(p *agentapi.Policy) { p.Layers.Redis.Breaker.FailureRatio = 2 }, "layers.redis.breaker.failureRatio"},
		{"min requests", func(p *agentapi.Policy) { p.Layers.Redis.Breaker.MinRequests = 5 }, "layers.redis.breaker.minRequests"},
		{"disk dir", func(p *agentapi.Policy) { p.Layers.Disk.Dir = "/var/../cache" }, "layers.disk.dir"},
		{"pattern", func(p *agentapi.Policy) { p.Origins[0].KeyPattern = "" }, "origins[0].keyPattern"},
		{"template", func(p *agentapi.Policy) { p.Origins[0].URLTemplate = "http://x/{2}" }, "origins[0].urlTemplate"},
		{"header", func(p *agentapi.Policy) { p.Origins[0].Headers = map[string]string{"Bad Name": "x"} }, "origins[0].headers"},
		{"header value", func(p *agentapi.Policy) { p.Origins[0].Headers = map[string]string{"X": "a\nb"} }, "origins[0].headers[X]"},
		{"origin tag", func(p *agentapi.Policy) { p.Origins[0].Tags = []string{""} }, "origins[0].tags[0]"},
		{"warm key", func(p *agentapi.Policy) { p.Warming.Keys = []string{"order:1"} }, "warming.keys[0]"},
		{"concurrency", func(p *agentapi.Policy) { p.Warming.Concurrency = 1000 }, "warming.concurrency"},
		{"snapshots", func(p *agentapi.Policy) { p.Snapshots.Dir = "snap" }, "snapshots.dir"},
		{"bus without redis", func(p *agentapi.Policy) { p.Layers.Redis = nil }, "bus"},
	} {
		p := example(t)
		tc.edit(&p)
		err := p.Validate()
		var ve *agentapi.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: Validate = %v; want a *ValidationError", tc.name, err)
			continue
		}
		found := false
		for _, fe := range ve.Errors {
			found = found || fe.Field == tc.field
		}
		if !found {
			t.Errorf("%s: errors %q do not name %s", tc.name, ve.Details(), tc.field)
		}
	}
	var zero agentapi.Policy
	if err := zero.Validate(); err != nil {
		t.Fatalf("the zero Policy: %v", err)
	}
}

func TestPolicyHash(t *testing.T) {
	t.Parallel()
	p := example(t)
	h1, err := p.ComputeHash()
	if err != nil || !strings.HasPrefix(h1, agentapi.HashPrefix) {
		t.Fatalf("ComputeHash = %q, %v", h1, err)
	}
	q := example(t)
	q.Generation, q.Hash = 99, h1
	if h2, _ := q.ComputeHash(); h2 != h1 {
		t.Fatalf("generation and hash changed the hash: %s != %s", h2, h1)
	}
	if err := q.Validate(); err != nil {
		t.Fatalf("a policy carrying its own hash: %v", err)
	}
	q.Freshness.TTL++
	if h3, _ := q.ComputeHash(); h3 == h1 {
		t.Fatal("a content change kept the hash")
	}
	// Writing a default explicitly does not change the hash.
	explicit, err := agentapi.Decode[agentapi.Policy](strings.NewReader(`{"freshness":{"ttl":"0s"},"origins":[]}`), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	var zero agentapi.Policy
	he, _ := explicit.ComputeHash()
	hz, _ := zero.ComputeHash()
	if he != hz {
		t.Fatalf("explicit defaults hash %s, the zero policy %s", he, hz)
	}
}
