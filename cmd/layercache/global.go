package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// envRedisURL names the environment variable that --redis defaults to, so
// that a password need not appear on the command line (where other users
// of the machine can read it in the process list).
const envRedisURL = "LAYERCACHE_REDIS_URL"

// defaultTimeout bounds a whole command unless --timeout says otherwise.
const defaultTimeout = time.Minute

// globalOptions are the flags every command takes.
type globalOptions struct {
	redisURL   string
	cluster    bool
	prefix     string
	json       bool
	timeout    time.Duration
	requireTLS bool
}

func (g *globalOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&g.redisURL, "redis", "",
		"Redis to connect to: redis://[user:password@]host[:port][/db], rediss://… for TLS, or host[:port]\n(default $"+envRedisURL+")")
	fs.BoolVar(&g.cluster, "cluster", false,
		"the URL names a node of a Redis Cluster (further nodes as ?addr=host:port)")
	fs.StringVar(&g.prefix, "prefix", "", "the layer's key prefix (rediscache.Options.Prefix)")
	fs.BoolVar(&g.json, "json", false, "print machine-readable JSON instead of a table")
	fs.DurationVar(&g.timeout, "timeout", defaultTimeout, "time limit for the whole command; 0 means none")
	fs.BoolVar(&g.requireTLS, "require-tls", false, "refuse to connect without TLS (anything but rediss://)")
}

// resolve applies the environment default and checks the flags that need
// no connection.
func (g *globalOptions) resolve() error {
	if g.redisURL == "" {
		g.redisURL = os.Getenv(envRedisURL)
	}
	if g.redisURL == "" {
		return usagef("--redis is required (or set %s)", envRedisURL)
	}
	if g.timeout < 0 {
		return usagef("--timeout is %s; it must not be negative", g.timeout)
	}
	return nil
}

// connect builds the client for g.redisURL. The client dials lazily, on
// its first command. warnings are for stderr. Errors may contain the URL;
// the caller masks them.
func (g *globalOptions) connect() (client redis.UniversalClient, warnings []string, err error) {
	u, err := normalizeURL(g.redisURL)
	if err != nil {
		return nil, nil, err
	}
	masked := newMasker(g.redisURL).mask(u.String())
	tls := u.Scheme == "rediss"
	if !tls {
		if g.requireTLS {
			return nil, nil, fmt.Errorf("refusing to connect to %s without TLS (--require-tls): use a rediss:// URL", masked)
		}
		if u.Scheme != "unix" && !isLoopback(u.Hostname()) {
			warnings = append(warnings, fmt.Sprintf("connecting to %s without TLS; use rediss:// (and --require-tls)", masked))
		}
	}
	if g.cluster {
		if u.Scheme == "unix" {
			return nil, nil, errors.New("--cluster needs a redis:// or rediss:// URL")
		}
		o, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, nil, fmt.Errorf("parse --redis: %w", err)
		}
		o.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o), warnings, nil
	}
	o, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, nil, fmt.Errorf("parse --redis: %w", err)
	}
	o.ContextTimeoutEnabled = true
	return redis.NewClient(o), warnings, nil
}

// normalizeURL accepts redis://, rediss:// and unix:// URLs, and a bare
// host[:port] (port 6379 by default), which becomes a redis:// URL.
func normalizeURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		if strings.ContainsAny(raw, "@/?#") {
			// raw is not echoed: it may hold a password the masker
			// cannot recognise without a scheme.
			return nil, errors.New("--redis: credentials, a database or options need a redis:// or rediss:// URL")
		}
		host := raw
		if _, _, err := net.SplitHostPort(raw); err != nil {
			host = net.JoinHostPort(strings.Trim(raw, "[]"), "6379")
		}
		raw = "redis://" + host
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse --redis: %w", err)
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
	default:
		return nil, fmt.Errorf("--redis: unsupported scheme %q (want redis://, rediss:// or unix://)", u.Scheme)
	}
	if u.Scheme != "unix" && u.Hostname() == "" {
		return nil, fmt.Errorf("--redis %s: no host", raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// env is what a command runs with.
type env struct {
	client redis.UniversalClient
	prefix string // the layer prefix
	out    output
	stderr io.Writer
	name   string // the command's name, for warnings
	mask   masker
}

// warnf prints a warning to stderr, masked.
func (e *env) warnf(format string, args ...any) {
	printf(e.stderr, "layercache %s: warning: %s\n", e.name, e.mask.mask(fmt.Sprintf(format, args...)))
}
