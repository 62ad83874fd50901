package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/agent"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

func TestDataRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := startAgent(t, agent.Options{})
	keys := []string{"user:1", "a/b with spaces?&#", "ключ"}
	for _, k := range keys {
		must(t, r.data.Set(ctx, k, raw(`{"name":"Ada","n":1}`), agentclient.SetOptions{TTL: time.Minute, Tags: []string{"t1"}}))
		got, err := r.data.Get(ctx, k)
		if err != nil {
			t.Fatalf("Get(%q): %v", k, err)
		}
		if string(got.JSON) != `{"name":"Ada","n":1}` || got.Cache != agentapi.CacheHit {
			t.Fatalf("Get(%q) = %s (X-Cache %s); want the stored value, HIT", k, got.JSON, got.Cache)
		}
	}
	must(t, r.data.Delete(ctx, keys[0]))
	_, err := r.data.Get(ctx, keys[0])
	mustCode(t, err, agentapi.CodeNotFound)
	if n, err := r.data.InvalidateTags(ctx, []string{"t1"}, agentapi.MatchAny); err != nil || n != 2 {
		t.Fatalf("InvalidateTags = %d, %v; want 2 keys", n, err)
	}
	for _, k := range keys[1:] {
		if _, err := r.data.Get(ctx, k); !agentclient.IsNotFound(err) {
			t.Fatalf("Get(%q) after the tag invalidation: %v; want NotFound", k, err)
		}
	}
}

func TestDataBulk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	o := newOrigin(t, nil)
	r := startAgent(t, agent.Options{Policy: &agentapi.Policy{Origins: []agentapi.Origin{o.usersOrigin()}}})
	n, err := r.data.SetMany(ctx, agentapi.BulkSetRequest{
		Items: []agentapi.BulkItem{{Key: "k1", Value: raw(`1`)}, {Key: "k2", Value: raw(`"two"`)}},
		Tags:  []string{"bulk"},
	})
	if err != nil || n != 2 {
		t.Fatalf("SetMany = %d, %v", n, err)
	}
	res, err := r.data.GetMany(ctx, []string{"k1", "k2", "k3", "user:7", "user:missing", "user:broken"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"k1": `1`, "k2": `"two"`, "user:7": `{"id":"7"}`}
	if len(res.Values) != len(want) {
		t.Fatalf("GetMany values = %v; want %v", res.Values, want)
	}
	for k, v := range want {
		if got := strings.TrimSpace(string(res.Values[k])); got != v {
			t.Errorf("GetMany[%q] = %s; want %s", k, got, v)
		}
	}
	if strings.Join(res.Missing, ",") != "k3,user:missing" {
		t.Errorf("GetMany missing = %v; want [k3 user:missing]", res.Missing)
	}
	if _, ok := res.Failed["user:broken"]; !ok || len(res.Failed) != 1 {
		t.Errorf("GetMany failed = %v; want user:broken only", res.Failed)
	}
	if n, err := r.data.Invalidate(ctx, agentapi.InvalidationTarget{Prefixes: []string{"k"}}); err != nil || n != 2 {
		t.Fatalf("Invalidate(prefix k) = %d, %v; want 2", n, err)
	}
}

func TestDataErrors(t *testing.T) {
	t.Parallel()
	r := startAgent(t, agent.Options{MaxValueBytes: 64})
	base := "http://" + r.dataAddr
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     agentapi.ErrorCode
	}{
		{"invalid key", "GET", agentapi.KeyPath("bad\x01key"), "", 400, agentapi.CodeInvalidKey},
		{"unknown key", "GET", agentapi.KeyPath("nope"), "", 404, agentapi.CodeNotFound},
		{"not JSON", "PUT", agentapi.KeyPath("k"), "{not json", 400, agentapi.CodeBadRequest},
		{"empty value", "PUT", agentapi.KeyPath("k"), "", 400, agentapi.CodeBadRequest},
		{"too large", "PUT", agentapi.KeyPath("k"), `"` + strings.Repeat("x", 100) + `"`, 413, agentapi.CodeTooLarge},
		{"bad ttl", "PUT", agentapi.KeyPath("k") + "?ttl=soon", `1`, 400, agentapi.CodeBadRequest},
		{"bad tag", "PUT", agentapi.KeyPath("k") + "?tags=a,,b", `1`, 400, agentapi.CodeInvalidKey},
		{"unknown field", "POST", agentapi.PathInvalidate, `{"keys":["a"],"tagz":["x"]}`, 400, agentapi.CodeBadRequest},
		{"two targets", "POST", agentapi.PathInvalidate, `{"keys":["a"],"all":true}`, 422, agentapi.CodeInvalidRequest},
		{"trailing data", "POST", agentapi.PathTagsInvalidate, `{"tags":["a"]} {}`, 400, agentapi.CodeBadRequest},
		{"empty bulk", "POST", agentapi.PathKeys, `{"keys":[]}`, 422, agentapi.CodeInvalidRequest},
		{"no route", "GET", "/v2/nothing", "", 404, agentapi.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base+tc.path, bytes.NewBufferString(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			var env agentapi.Response[json.RawMessage]
			if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
				t.Fatalf("%s %s: body is not an envelope: %v", tc.method, tc.path, err)
			}
			if resp.StatusCode != tc.status || env.Error == nil || env.Error.Code != tc.code {
				t.Fatalf("%s %s = %d %+v; want %d %s", tc.method, tc.path, resp.StatusCode, env.Error, tc.status, tc.code)
			}
		})
	}
	http.DefaultClient.CloseIdleConnections()
}
