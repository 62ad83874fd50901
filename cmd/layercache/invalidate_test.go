package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisbus"
	"github.com/layercache/layercache/pkg/cache/redistags"
)

// tagged returns the keys the Redis tag index lists for tag.
func (f *fixture) tagged(t *testing.T, tag string) []string {
	t.Helper()
	idx, err := redistags.New(redistags.Options{Client: f.client, Prefix: f.tagPrefix})
	must(t, err)
	var keys []string
	must(t, idx.Keys(context.Background(), []string{tag}, false, 100, func(batch []string) error {
		keys = append(keys, batch...)
		return nil
	}))
	slices.Sort(keys)
	return keys
}

func (f *fixture) invalidate(t *testing.T, args ...string) result {
	t.Helper()
	return f.cli(t, "invalidate", append([]string{"--tag-index-prefix", f.tagPrefix, "--bus-channel", f.channel}, args...)...)
}

// TestInvalidateTagReachesOtherInstances is weakness 18 of the reference:
// the keys are deleted under the layer prefix, dropped from the tag index,
// and another instance's memory copy goes too.
func TestInvalidateTagReachesOtherInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	f.seed(t)

	// Another instance, on the bus, holds user:1 in memory.
	bus, err := redisbus.New(redisbus.Options{Client: f.client, Channel: f.channel})
	must(t, err)
	other, users := newStack(t, f.client, f.tagPrefix, stackOptions{bus: bus})
	dropped := make(chan string, 16)
	unsubscribe := other.Subscribe(func(e cache.Event) {
		if e.Type == cache.EventRemoteInvalidation {
			dropped <- e.Key
		}
	})
	defer unsubscribe()
	if u, err := users.Get(ctx, "user:1", nil); err != nil || u.Name != "Ada" {
		t.Fatalf("other instance Get(user:1) = %+v, %v", u, err)
	}
	msgs := f.subscribe(t, nil)

	var got invalidateResult
	r := f.invalidate(t, "--tag", "users", "--json").ok(t)
	r.decode(t, &got)
	if got.Selector != "tag" || got.Value != "users" || got.Matched != 2 || got.Deleted != 2 ||
		got.Untracked != 2 || got.PublishedKeys != 2 || got.BusChannel != f.channel || got.Error != "" {
		t.Errorf("invalidate --tag users = %+v", got)
	}
	if !strings.Contains(r.stderr, "unsigned") {
		t.Errorf("stderr = %q, want a warning about unsigned messages", r.stderr)
	}
	if e := f.exists(t, "user:1", "user:2", "order:1"); e["user:1"] || e["user:2"] || !e["order:1"] {
		t.Errorf("after invalidating tag users, Redis holds %v; want the users gone and order:1 kept", e)
	}
	if keys := f.tagged(t, "users"); len(keys) != 0 {
		t.Errorf("tag index still lists %q under users", keys)
	}
	if keys := f.tagged(t, "vip"); len(keys) != 0 {
		t.Errorf("tag index still lists %q under vip (untrack must drop every tag of a key)", keys)
	}
	m := next(t, msgs)
	if m.Kind != cache.BusDelete || !slices.Equal(sorted(m.Keys), []string{"user:1", "user:2"}) {
		t.Errorf("bus message = %+v, want delete of user:1 and user:2", m)
	}

	// The other instance dropped its memory copy: the next read fetches.
	for range 2 {
		select {
		case <-dropped:
		case <-waitAfter():
			t.Fatal("the other instance never applied the invalidation")
		}
	}
	var fetches atomic.Int32
	u, err := users.Get(ctx, "user:1", func(context.Context) (user, error) {
		fetches.Add(1)
		return user{ID: 1, Name: "Ada Lovelace"}, nil
	})
	if err != nil || u.Name != "Ada Lovelace" || fetches.Load() != 1 {
		t.Errorf("other instance Get(user:1) after invalidation = %+v, %v (%d fetches); want a fresh fetch", u, err, fetches.Load())
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestInvalidateTableOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	r := f.invalidate(t, "--key", "order:1").ok(t)
	rows := r.rows(t)
	for field, want := range map[string]string{
		"selector":  "key order:1",
		"matched":   "1",
		"deleted":   "1",
		"untracked": "1",
		"published": "1 keys on " + f.channel,
	} {
		if rows[field] != want {
			t.Errorf("row %q = %q, want %q\n%s", field, rows[field], want, r.stdout)
		}
	}
	if f.exists(t, "order:1")["order:1"] {
		t.Error("order:1 is still in Redis")
	}
}

func TestInvalidateMassDeletionNeedsForce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)

	r := f.invalidate(t, "--pattern", "*", "--json")
	if r.code != exitFailure {
		t.Fatalf("invalidate --pattern '*' without --force: exit %d, want %d", r.code, exitFailure)
	}
	var got invalidateResult
	r.decode(t, &got)
	if !got.Refused || got.Matched != 7 || !slices.Equal(got.Keys, seededKeys()) || got.Deleted != 0 {
		t.Errorf("refused result = %+v", got)
	}
	if !strings.Contains(r.stderr, "refusing") || !strings.Contains(r.stderr, "matches every key") {
		t.Errorf("stderr = %q, want the refusal and its reason", r.stderr)
	}
	for k, ok := range f.exists(t, seededKeys()...) {
		if !ok {
			t.Errorf("a refused invalidation deleted %s", k)
		}
	}

	// Table form of a refusal: the count, then the keys.
	r = f.invalidate(t, "--pattern", "**?")
	if r.code != exitFailure || !strings.HasPrefix(r.stdout, "refused: would invalidate 7 keys") ||
		!strings.Contains(r.stdout, "\nuser:2\n") {
		t.Errorf("refusal table (exit %d):\n%s", r.code, r.stdout)
	}

	got = invalidateResult{}
	f.invalidate(t, "--pattern", "*", "--force", "--json").ok(t).decode(t, &got)
	if got.Refused || got.Matched != 7 || got.Deleted != 7 || got.PublishedKeys != 7 {
		t.Errorf("invalidate --pattern '*' --force = %+v, want 7 deleted", got)
	}
	if n, _ := f.client.Exists(context.Background(), "other:key", "app*Z:decoy").Result(); n != 2 {
		t.Errorf("keys outside the layer prefix were deleted (%d of 2 left)", n)
	}
}

func TestInvalidateMaxWithoutForce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	r := f.invalidate(t, "--tag", "users", "--max-without-force", "1", "--json")
	var got invalidateResult
	r.decode(t, &got)
	if r.code != exitFailure || !got.Refused || got.Matched != 1 || !got.Truncated {
		t.Errorf("2 keys with --max-without-force 1: exit %d, %+v; want a refusal", r.code, got)
	}
	if !strings.Contains(r.stderr, "more than --max-without-force (1)") {
		t.Errorf("stderr = %q", r.stderr)
	}
	if e := f.exists(t, "user:1", "user:2"); !e["user:1"] || !e["user:2"] {
		t.Errorf("a refused invalidation deleted keys: %v", e)
	}
	f.invalidate(t, "--tag", "users", "--max-without-force", "2").ok(t)
	if e := f.exists(t, "user:1", "user:2"); e["user:1"] || e["user:2"] {
		t.Errorf("within --max-without-force, keys were kept: %v", e)
	}
}

func TestInvalidateKeyPrefixPublishesClear(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	msgs := f.subscribe(t, nil)
	var got invalidateResult
	f.invalidate(t, "--key-prefix", "user:", "--json").ok(t).decode(t, &got)
	if got.Matched != 2 || got.Deleted != 2 || !got.PublishedClear || got.PublishedKeys != 0 {
		t.Errorf("invalidate --key-prefix user: = %+v", got)
	}
	if m := next(t, msgs); m.Kind != cache.BusClear || m.Prefix != "user:" || len(m.Keys) != 0 {
		t.Errorf("bus message = %+v, want a clear of prefix user:", m)
	}
	if keys := f.tagged(t, "users"); len(keys) != 0 {
		t.Errorf("tag index still lists %q", keys)
	}
}

func TestInvalidateDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	var got invalidateResult
	f.invalidate(t, "--pattern", "*:1", "--dry-run", "--json").ok(t).decode(t, &got)
	want := []string{"missing:1", "old:1", "order:1", "user:1"}
	if !got.DryRun || got.Matched != 4 || !slices.Equal(got.Keys, want) || got.Deleted != 0 || got.BusChannel != "" {
		t.Errorf("dry run = %+v, want the 4 keys listed", got)
	}
	r := f.invalidate(t, "--tag", "users", "--dry-run").ok(t)
	if !strings.HasPrefix(r.stdout, "dry run: would invalidate 2 keys") {
		t.Errorf("dry run table:\n%s", r.stdout)
	}
	for k, ok := range f.exists(t, seededKeys()...) {
		if !ok {
			t.Errorf("a dry run deleted %s", k)
		}
	}
	if keys := f.tagged(t, "users"); len(keys) != 2 {
		t.Errorf("a dry run untracked keys: users lists %q", keys)
	}
}

func TestInvalidateSignedBus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	path := filepath.Join(t.TempDir(), "secret")
	must(t, os.WriteFile(path, append(secret, '\n'), 0o600))
	msgs := f.subscribe(t, secret) // drops unsigned and wrongly signed messages

	r := f.invalidate(t, "--key", "user:1", "--bus-secret-file", path).ok(t)
	if strings.Contains(r.stderr, "unsigned") {
		t.Errorf("stderr = %q, want no warning with a secret", r.stderr)
	}
	if m := next(t, msgs); m.Kind != cache.BusDelete || !slices.Equal(m.Keys, []string{"user:1"}) {
		t.Errorf("signed bus message = %+v", m)
	}

	empty := filepath.Join(t.TempDir(), "empty")
	must(t, os.WriteFile(empty, []byte("\n"), 0o600))
	r = f.invalidate(t, "--key", "user:2", "--bus-secret-file", empty)
	if r.code != exitFailure || !strings.Contains(r.stderr, "is empty") {
		t.Errorf("empty secret file: exit %d, stderr %q", r.code, r.stderr)
	}
	if !f.exists(t, "user:2")["user:2"] {
		t.Error("with an unusable secret, the key was deleted anyway")
	}
}

func TestInvalidateNoPublish(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	var got invalidateResult
	r := f.cli(t, "invalidate", "--key", "user:1", "--no-publish", "--tag-index-prefix", f.tagPrefix, "--json").ok(t)
	r.decode(t, &got)
	if got.Deleted != 1 || got.PublishedKeys != 0 || got.BusChannel != "" || got.Untracked != 1 {
		t.Errorf("--no-publish = %+v", got)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want nothing", r.stderr)
	}
}

func TestInvalidateRejectsBadFlags(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, args := range [][]string{
		{},
		{"--tag", "a", "--key", "b"},
		{"--pattern", `a\`},
		{"--key-prefix", "a\x01"},
		{"--tag", "t", "--force", "--dry-run"},
		{"--tag", "t", "--max-without-force", "-1"},
		{"--tag", "t", "--no-publish", "--bus-secret-file", "x"},
	} {
		if r := f.cli(t, "invalidate", args...); r.code != exitUsage {
			t.Errorf("invalidate %q: exit %d, want %d\n%s", args, r.code, exitUsage, r.stderr)
		}
	}
}
