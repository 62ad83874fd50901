package main

import (
	"slices"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		code   int
		stdout bool // usage goes to stdout (asked for) rather than stderr
		want   string
	}{
		{nil, exitUsage, false, "Usage: layercache <command>"},
		{[]string{"help"}, exitOK, true, "invalidate"},
		{[]string{"--help"}, exitOK, true, "inspect"},
		{[]string{"nope"}, exitUsage, false, "unknown command nope"},
		{[]string{"stats", "--help"}, exitOK, true, "-limit"},
		{[]string{"keys", "--bogus"}, exitUsage, false, "flag provided but not defined: -bogus"},
		{[]string{"keys", "--redis", "localhost", "extra"}, exitUsage, false, "unexpected argument extra"},
		{[]string{"keys", "--redis", "localhost", "--limit", "0"}, exitUsage, false, "--limit is 0"},
		{[]string{"keys", "--redis", "localhost", "--timeout", "-1s"}, exitUsage, false, "--timeout is -1s"},
		{[]string{"keys", "--redis", "localhost", "--pattern", `x\`}, exitUsage, false, "trailing backslash"},
	} {
		r := cli(t, tc.args...)
		out := r.stderr
		if tc.stdout {
			out = r.stdout
		}
		if r.code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("layercache %q: exit %d, output:\n%s\nwant exit %d and %q", tc.args, r.code, out, tc.code, tc.want)
		}
	}
}

func TestRedisURLFromEnvironment(t *testing.T) {
	f := newFixture(t)
	f.seed(t)
	t.Setenv(envRedisURL, f.url)
	r := cli(t, "keys", "--prefix", layerPrefix).ok(t)
	if got := strings.Fields(r.stdout); !slices.Equal(got, seededKeys()) {
		t.Errorf("keys with $%s = %q", envRedisURL, got)
	}
	t.Setenv(envRedisURL, "")
	if r := cli(t, "keys"); r.code != exitUsage || !strings.Contains(r.stderr, "--redis is required") {
		t.Errorf("keys without a URL: exit %d, %q", r.code, r.stderr)
	}
}

// TestCredentialsAreMasked checks every path by which the URL reaches the
// user: connection errors, flag errors, TLS refusals, warnings.
func TestCredentialsAreMasked(t *testing.T) {
	t.Parallel()
	const secret = "s3cretPassw0rd"
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"connection refused",
			[]string{"stats", "--redis", "redis://admin:" + secret + "@127.0.0.1:1/0", "--timeout", "5s"},
			exitFailure, "connection refused"},
		{"plaintext refused",
			[]string{"keys", "--require-tls", "--redis", "redis://admin:" + secret + "@127.0.0.1:1"},
			exitFailure, "refusing to connect to redis://admin:***@127.0.0.1:1 without TLS"},
		{"bad URL",
			[]string{"keys", "--redis", "redis://admin:" + secret + "@bad host:1"},
			exitFailure, "admin:***@bad"},
		{"password only",
			[]string{"keys", "--redis", "redis://" + secret + "@127.0.0.1:1", "--timeout", "5s"},
			exitFailure, "connection refused"},
		{"escaped password",
			[]string{"keys", "--require-tls", "--redis", "redis://admin:" + secret + "%2F@127.0.0.1:1"},
			exitFailure, "redis://admin:***@127.0.0.1:1"},
		{"flag error",
			[]string{"keys", "--timeout", "redis://admin:" + secret + "@h"},
			exitUsage, "admin:***@h"},
		{"bare host with credentials",
			[]string{"keys", "--redis", "admin:" + secret + "@127.0.0.1"},
			exitFailure, "need a redis:// or rediss:// URL"},
	} {
		r := cli(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tc.name, r.code, r.stderr, tc.code, tc.want)
		}
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("%s: the password leaked:\n%s%s", tc.name, r.stdout, r.stderr)
		}
	}
}

func TestPlaintextWarning(t *testing.T) {
	t.Parallel()
	// A non-loopback host is warned about before any connection is tried;
	// the connection then fails (TEST-NET-1 is unroutable), quickly.
	r := cli(t, "keys", "--redis", "redis://u:p4ssword@192.0.2.1:6379", "--timeout", "1ms")
	if !strings.Contains(r.stderr, "warning: connecting to redis://u:***@192.0.2.1:6379 without TLS") {
		t.Errorf("stderr = %q, want a plaintext warning", r.stderr)
	}
	if strings.Contains(r.stderr, "p4ssword") {
		t.Errorf("the password leaked: %s", r.stderr)
	}
}

func TestNormalizeURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"localhost", "redis://localhost:6379"},
		{"10.1.2.3:7000", "redis://10.1.2.3:7000"},
		{"[::1]", "redis://[::1]:6379"},
		{"[::1]:7000", "redis://[::1]:7000"},
		{"rediss://u:p@cache.example:6380/2", "rediss://u:p@cache.example:6380/2"},
		{"unix:///run/redis.sock", "unix:///run/redis.sock"},
	} {
		u, err := normalizeURL(tc.in)
		if err != nil || u.String() != tc.want {
			t.Errorf("normalizeURL(%q) = %v, %v; want %s", tc.in, u, err, tc.want)
		}
	}
	for _, in := range []string{"http://h", "redis://", "a@b", "h/1"} {
		if _, err := normalizeURL(in); err == nil {
			t.Errorf("normalizeURL(%q) accepted it", in)
		}
	}
}

func TestMask(t *testing.T) {
	t.Parallel()
	m := newMasker("redis://user:hunter22@h:1/0")
	for _, tc := range []struct{ in, want string }{
		{"dial redis://user:hunter22@h:1/0: refused", "dial redis://user:***@h:1/0: refused"},
		{`parse "rediss://a:b@c"`, `parse "rediss://a:***@c"`},
		{"redis://onlysecret@h", "redis://***@h"},
		{"auth hunter22 failed", "auth *** failed"},
		{"no credentials redis://h:1", "no credentials redis://h:1"},
		{"mail a@b.example", "mail a@b.example"},
	} {
		if got := m.mask(tc.in); got != tc.want {
			t.Errorf("mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSafe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"user:1", "user:1"},
		{"héllo wörld", "héllo wörld"},
		{"a\tb", `"a\tb"`},
		{"\x1b[31mred", `"\x1b[31mred"`},
		{"\u009b2J", `"\u009b2J"`},
		{"bad\xffutf8", `"bad\xffutf8"`},
	} {
		if got := safe(tc.in); got != tc.want {
			t.Errorf("safe(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
