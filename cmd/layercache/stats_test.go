package main

import (
	"context"
	"strings"
	"testing"
)

func TestStatsTable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	r := f.cli(t, "stats").ok(t)
	got := r.rows(t)
	want := map[string]string{
		"layer prefix":         layerPrefix,
		"keys":                 "7",
		"envelopes":            "5",
		"compressed":           "1",
		"zstd":                 "1",
		"tagged":               "2",
		"negative":             "1",
		"corrupt":              "1",
		"not strings":          "1",
		"state fresh":          "4",
		"state stale":          "1",
		"state stale-if-error": "0",
		"state expired":        "0",
		"ttl none":             "2",
		"ttl <1m":              "1",
		"ttl 1m-10m":           "0",
		"ttl 10m-1h":           "3",
		"ttl 1h-1d":            "1",
		"ttl >=1d":             "0",
	}
	for field, v := range want {
		if got[field] != v {
			t.Errorf("stats row %q = %q, want %q\n%s", field, got[field], v, r.stdout)
		}
	}
	if !strings.Contains(got["bytes"], "largest") {
		t.Errorf("stats row bytes = %q, want a total and the largest", got["bytes"])
	}
	if r.stderr != "" {
		t.Errorf("stats printed to stderr: %s", r.stderr)
	}
}

func TestStatsJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	var got statsResult
	f.cli(t, "stats", "--json").ok(t).decode(t, &got)
	if got.Keys != 7 || got.Envelopes != 5 || got.Compressed != 1 || got.Algorithms["zstd"] != 1 ||
		got.Negative != 1 || got.Corrupt != 1 || got.NotString != 1 || got.Tagged != 2 || got.Truncated {
		t.Errorf("stats --json = %+v", got)
	}
	if got.States["fresh"] != 4 || got.States["stale"] != 1 {
		t.Errorf("states = %v, want 4 fresh and 1 stale", got.States)
	}
	if got.Bytes <= 0 || got.LargestBytes <= 0 || int64(got.LargestBytes) > got.Bytes {
		t.Errorf("bytes = %d, largest = %d", got.Bytes, got.LargestBytes)
	}
	ttl := map[string]int{}
	for _, b := range got.TTL {
		ttl[b.Range] = b.Keys
	}
	if ttl["none"] != 2 || ttl["<1m"] != 1 || ttl["10m-1h"] != 3 || ttl["1h-1d"] != 1 {
		t.Errorf("ttl = %v", got.TTL)
	}
}

func TestStatsPatternAndLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	var got statsResult
	f.cli(t, "stats", "--json", "--pattern", "user:*").ok(t).decode(t, &got)
	if got.Keys != 2 || got.Tagged != 2 || got.Pattern != "user:*" {
		t.Errorf("stats --pattern user:* = %+v, want the 2 users", got)
	}

	r := f.cli(t, "stats", "--json", "--limit", "3").ok(t)
	r.decode(t, &got)
	if got.Keys != 3 || !got.Truncated || got.Limit != 3 {
		t.Errorf("stats --limit 3 = keys %d, truncated %v; want 3, true", got.Keys, got.Truncated)
	}
	if !strings.Contains(r.stderr, "warning: stopped after --limit 3 keys") {
		t.Errorf("stats --limit 3 stderr = %q, want a warning", r.stderr)
	}
}

func TestStatsWithoutPrefixWarns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	r := cli(t, "stats", "--redis", f.url, "--json").ok(t)
	var got statsResult
	r.decode(t, &got)
	// Every key of the database: the application's, the tag index's, the
	// decoy and other:key.
	n, err := f.client.DBSize(context.Background()).Result()
	must(t, err)
	if int64(got.Keys) != n {
		t.Errorf("stats without --prefix counted %d keys, want every key of the database (%d)", got.Keys, n)
	}
	if !strings.Contains(r.stderr, "no --prefix") {
		t.Errorf("stderr = %q, want a warning about the missing prefix", r.stderr)
	}
}
