package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func inspect(t *testing.T, f *fixture, key string, args ...string) inspectResult {
	t.Helper()
	var got inspectResult
	f.cli(t, "inspect", append([]string{"--json", "--key", key}, args...)...).ok(t).decode(t, &got)
	return got
}

func TestInspectCompressedMessagePackEntry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	got := inspect(t, f, "user:2", "--codec", "msgpack")
	if !got.Exists || got.RedisKey != layerPrefix+"user:2" || !got.Compressed || got.Algorithm != "zstd" ||
		!got.Envelope || got.State != "fresh" || got.Negative || got.Error != "" || got.PreviewError != "" {
		t.Fatalf("inspect user:2 = %+v", got)
	}
	if got.SizeBytes >= got.EnvelopeBytes || got.PayloadBytes >= got.EnvelopeBytes {
		t.Errorf("sizes: stored %d, envelope %d, payload %d; want stored < envelope > payload",
			got.SizeBytes, got.EnvelopeBytes, got.PayloadBytes)
	}
	if strings.Join(got.Tags, ",") != "users,vip" {
		t.Errorf("tags = %q, want users, vip", got.Tags)
	}
	if got.TTLMs == nil || *got.TTLMs <= 59*60*1000 || *got.TTLMs > 3600*1000 {
		t.Errorf("ttlMs = %v, want just under an hour", got.TTLMs)
	}
	if got.FreshUntil == nil || time.Until(*got.FreshUntil) <= 59*time.Minute || got.StaleUntil != nil {
		t.Errorf("freshUntil = %v, staleUntil = %v; want fresh for an hour, no stale window", got.FreshUntil, got.StaleUntil)
	}
	var v user
	if err := json.Unmarshal(got.Value, &v); err != nil || v.ID != 2 || v.Name != "Grace" || len(v.Bio) != 1000 {
		t.Errorf("value = %s (%v), want Grace as JSON", got.Value, err)
	}
}

func TestInspectTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	r := f.cli(t, "inspect", "--key", "user:2", "--codec", "msgpack", "--preview-bytes", "40").ok(t)
	rows := r.rows(t)
	for field, want := range map[string]string{
		"key":         "user:2",
		"redis key":   layerPrefix + "user:2",
		"exists":      "true",
		"envelope":    "true",
		"state":       "fresh",
		"tags":        "users, vip",
		"negative":    "false",
		"stale until": "-",
	} {
		if rows[field] != want {
			t.Errorf("row %q = %q, want %q\n%s", field, rows[field], want, r.stdout)
		}
	}
	if !strings.Contains(rows["size"], "zstd-compressed") {
		t.Errorf("row size = %q, want zstd-compressed", rows["size"])
	}
	if !strings.HasPrefix(rows["preview"], `{"bio":"compilers`) || !strings.Contains(rows["preview"], "… (") {
		t.Errorf("row preview = %q, want JSON cut at 40 bytes", rows["preview"])
	}
	if !strings.HasSuffix(rows["ttl"], "m59s") && !strings.HasSuffix(rows["ttl"], "h0m0s") {
		t.Errorf("row ttl = %q, want about an hour", rows["ttl"])
	}
}

func TestInspectWrongCodecExplains(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	got := inspect(t, f, "user:1") // the default codec is json; the stack wrote msgpack
	if got.Value != nil || !strings.Contains(got.PreviewError, "--codec msgpack") {
		t.Errorf("inspect with the wrong codec = value %s, previewError %q; want a hint", got.Value, got.PreviewError)
	}
	if got.Compressed || got.Algorithm != "none" || !got.Envelope {
		t.Errorf("user:1 = %+v, want an uncompressed envelope", got)
	}
}

func TestInspectStates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)

	old := inspect(t, f, "old:1", "--codec", "msgpack")
	if old.State != "stale" || old.StaleUntil == nil || old.FreshUntil == nil || time.Until(*old.FreshUntil) > -59*time.Minute {
		t.Errorf("old:1 = state %q, fresh until %v, stale until %v; want stale", old.State, old.FreshUntil, old.StaleUntil)
	}

	neg := inspect(t, f, "missing:1", "--codec", "msgpack")
	if !neg.Negative || neg.PayloadBytes != 0 || neg.Value != nil || neg.PreviewError != "" || neg.State != "fresh" {
		t.Errorf("missing:1 = %+v, want a fresh negative entry", neg)
	}

	junk := inspect(t, f, "junk")
	if !junk.Exists || junk.Envelope || !strings.Contains(junk.Error, "corrupt") || junk.TTLMs != nil {
		t.Errorf("junk = %+v, want a corrupt value without TTL", junk)
	}

	list := inspect(t, f, "list")
	if !list.Exists || list.Type != "list" || list.Envelope || list.Error == "" {
		t.Errorf("list = %+v, want type list", list)
	}

	absent := inspect(t, f, "absent")
	if absent.Exists || absent.TTLMs != nil || absent.Envelope {
		t.Errorf("absent = %+v, want exists false", absent)
	}
	r := f.cli(t, "inspect", "--key", "absent").ok(t)
	if rows := r.rows(t); rows["exists"] != "false" {
		t.Errorf("table for an absent key:\n%s", r.stdout)
	}
}

func TestInspectRejectsBadFlags(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, args := range [][]string{
		{},
		{"--key", "a\x00b"},
		{"--key", "k", "--codec", "xml"},
		{"--key", "k", "--preview-bytes", "0"},
	} {
		if r := f.cli(t, "inspect", args...); r.code != exitUsage {
			t.Errorf("inspect %q: exit %d, want %d\n%s", args, r.code, exitUsage, r.stderr)
		}
	}
}
