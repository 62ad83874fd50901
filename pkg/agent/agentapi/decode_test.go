package agentapi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		limit      int64
		want       error // nil: any error, unless ok
		ok         bool
	}{
		{"valid", `{"keys":["a"]}`, 100, nil, true},
		{"unknown field", `{"keys":["a"],"extra":1}`, 100, nil, false},
		{"trailing", `{"keys":["a"]}{}`, 100, nil, false},
		{"too large", `{"keys":["` + strings.Repeat("a", 200) + `"]}`, 100, agentapi.ErrBodyTooLarge, false},
		{"empty", "  \n", 100, agentapi.ErrEmptyBody, false},
		{"syntax", `{"keys":`, 100, nil, false},
		{"wrong type", `{"keys":"a"}`, 100, nil, false},
	} {
		_, err := agentapi.Decode[agentapi.BulkGetRequest](strings.NewReader(tc.body), tc.limit)
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !tc.ok && err == nil:
			t.Errorf("%s: no error", tc.name)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
		}
	}
}

func TestValidateUID(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"a", "3f2b0c1e-aaaa-4bbb-8ccc-0123456789ab", "snap.2026-01-01", "x1"} {
		if err := agentapi.ValidateUID(ok); err != nil {
			t.Errorf("ValidateUID(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "..", "../x", "a/b", "A", "-a", "a-", ".a", "a..b", "a b", strings.Repeat("a", 254)} {
		if err := agentapi.ValidateUID(bad); err == nil {
			t.Errorf("ValidateUID(%q): no error", bad)
		}
	}
}

func TestInvalidationRequestValidate(t *testing.T) {
	t.Parallel()
	keys := agentapi.InvalidationTarget{Keys: []string{"a"}}
	for _, tc := range []struct {
		name string
		req  agentapi.InvalidationRequest
		ok   bool
	}{
		{"keys", agentapi.InvalidationRequest{Seq: 1, Layers: agentapi.LayersLocal, Target: keys}, true},
		{"all", agentapi.InvalidationRequest{Layers: agentapi.LayersShared, Target: agentapi.InvalidationTarget{All: true}}, true},
		{"tags all", agentapi.InvalidationRequest{Layers: agentapi.LayersAll, Target: agentapi.InvalidationTarget{
			Tags: &agentapi.TagTarget{Values: []string{"t"}, Match: agentapi.MatchAll}}}, true},
		{"no layers", agentapi.InvalidationRequest{Target: keys}, false},
		{"bad layers", agentapi.InvalidationRequest{Layers: "both", Target: keys}, false},
		{"no target", agentapi.InvalidationRequest{Layers: agentapi.LayersAll}, false},
		{"two targets", agentapi.InvalidationRequest{Layers: agentapi.LayersAll, Target: agentapi.InvalidationTarget{
			Keys: []string{"a"}, Prefixes: []string{"b"}}}, false},
		{"empty keys", agentapi.InvalidationRequest{Layers: agentapi.LayersAll, Target: agentapi.InvalidationTarget{Keys: []string{}}}, false},
		{"bad key", agentapi.InvalidationRequest{Layers: agentapi.LayersAll, Target: agentapi.InvalidationTarget{Keys: []string{"a\x00"}}}, false},
		{"bad match", agentapi.InvalidationRequest{Layers: agentapi.LayersAll, Target: agentapi.InvalidationTarget{
			Tags: &agentapi.TagTarget{Values: []string{"t"}, Match: "some"}}}, false},
		{"negative seq", agentapi.InvalidationRequest{Seq: -1, Layers: agentapi.LayersAll, Target: keys}, false},
		{"bad uid", agentapi.InvalidationRequest{UID: "UP", Layers: agentapi.LayersAll, Target: keys}, false},
	} {
		if err := tc.req.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v; want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// FuzzDecodePolicy feeds arbitrary bytes to the policy decoder and
// validator: they must return errors, never panic, and a document that
// decodes and validates must hash and re-encode to a document with the
// same hash.
func FuzzDecodePolicy(f *testing.F) {
	f.Add([]byte(`{"generation":1,"freshness":{"ttl":"5m"}}`))
	f.Add([]byte(`{"layers":{"redis":{"addr":"r:6379","prefix":"p:"}},"bus":{}}`))
	f.Add([]byte(`{"origins":[{"keyPattern":"u:*","urlTemplate":"http://u/{1}"}],"warming":{"keys":["u:1"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := agentapi.Decode[agentapi.Policy](strings.NewReader(string(data)), agentapi.MaxPolicyBytes)
		if err != nil || p.Validate() != nil {
			return
		}
		h, err := p.ComputeHash()
		if err != nil {
			t.Fatal(err)
		}
		p.Hash = h
		if err := p.Validate(); err != nil {
			t.Fatalf("a valid policy with its own hash is invalid: %v", err)
		}
	})
}

// FuzzDecodeInvalidation feeds arbitrary bytes to the invalidation
// decoder and validator.
func FuzzDecodeInvalidation(f *testing.F) {
	f.Add([]byte(`{"seq":1,"layers":"local","target":{"keys":["a"]}}`))
	f.Add([]byte(`{"layers":"all","target":{"tags":{"values":["t"],"match":"all"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := agentapi.Decode[agentapi.InvalidationRequest](strings.NewReader(string(data)), agentapi.MaxRequestBytes)
		if err != nil {
			return
		}
		_ = r.Validate() // must not panic
	})
}
