package agentapi

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
)

// compressions are the accepted values of RedisLayer.Compression.
var compressions = []string{"", "none", "gzip", "zstd", "brotli"}

// Validate checks the whole document and returns a *ValidationError
// listing every invalid field by its JSON path, or nil. It checks what can
// be checked without I/O; the agent may still reject a valid document it
// cannot build (a disk directory it cannot open, a secret file it cannot
// read), also naming the field.
func (p *Policy) Validate() error {
	f := &fieldErrors{what: "policy"}
	if p.Generation < 0 {
		f.add("generation", "must not be negative, got %d", p.Generation)
	}
	if p.Hash != "" {
		if want, err := p.ComputeHash(); err == nil && want != p.Hash {
			f.add("hash", "is %q but the document hashes to %q; leave it empty to have it computed", p.Hash, want)
		}
	}
	p.validateLayers(f)
	p.validateFreshness(f)
	origins := p.validateOrigins(f)
	p.validateWarming(f, origins)
	if d := p.Snapshots.Dir; d != "" {
		f.check("snapshots.dir", absPath(d))
	}
	if b := p.Bus; b != nil {
		if p.Layers.Redis == nil {
			f.add("bus", "needs layers.redis: the bus runs over the Redis server")
		}
		if b.SecretFile != "" {
			f.check("bus.secretFile", absPath(b.SecretFile))
		}
		if b.Channel != "" {
			f.check("bus.channel", checkName(b.Channel))
		}
	}
	return f.err()
}

func (p *Policy) validateLayers(f *fieldErrors) {
	m := p.Layers.Memory
	if m.MaxEntries < 0 {
		f.add("layers.memory.maxEntries", "must not be negative, got %d", m.MaxEntries)
	}
	if m.MaxBytes < 0 {
		f.add("layers.memory.maxBytes", "must not be negative, got %d", m.MaxBytes)
	}
	f.nonNegative("layers.memory.ttl", m.TTL)
	if r := p.Layers.Redis; r != nil {
		if _, _, err := net.SplitHostPort(r.Addr); err != nil {
			f.add("layers.redis.addr", "must be host:port, got %q", r.Addr)
		}
		if r.PasswordFile != "" {
			f.check("layers.redis.passwordFile", absPath(r.PasswordFile))
		}
		if r.DB < 0 {
			f.add("layers.redis.db", "must not be negative, got %d", r.DB)
		}
		if r.Prefix == "" {
			f.add("layers.redis.prefix", "is required, so that the agent's keys are told apart from other data in the database")
		} else {
			f.check("layers.redis.prefix", checkName(r.Prefix))
		}
		f.nonNegative("layers.redis.ttl", r.TTL)
		if !slices.Contains(compressions, strings.ToLower(r.Compression)) {
			f.add("layers.redis.compression", "must be none, gzip, zstd or brotli, got %q", r.Compression)
		}
		if b := r.Breaker; b != nil {
			validateBreaker(f, "layers.redis.breaker", b)
		}
	}
	if d := p.Layers.Disk; d != nil {
		f.check("layers.disk.dir", absPath(d.Dir))
		if d.MaxBytes < 0 {
			f.add("layers.disk.maxBytes", "must not be negative, got %d", d.MaxBytes)
		}
		f.nonNegative("layers.disk.ttl", d.TTL)
	}
}

func validateBreaker(f *fieldErrors, field string, b *Breaker) {
	if b.ConsecutiveFailures < 0 {
		f.add(field+".consecutiveFailures", "must not be negative, got %d", b.ConsecutiveFailures)
	}
	if b.FailureRatio < 0 || b.FailureRatio > 1 || b.FailureRatio != b.FailureRatio {
		f.add(field+".failureRatio", "must be between 0 and 1, got %v", b.FailureRatio)
	}
	if b.MinRequests < 0 {
		f.add(field+".minRequests", "must not be negative, got %d", b.MinRequests)
	}
	if b.MinRequests > 0 && b.FailureRatio == 0 {
		f.add(field+".minRequests", "applies only with failureRatio, which is 0")
	}
	f.nonNegative(field+".openFor", b.OpenFor)
	if b.HalfOpenProbes < 0 {
		f.add(field+".halfOpenProbes", "must not be negative, got %d", b.HalfOpenProbes)
	}
}

func (p *Policy) validateFreshness(f *fieldErrors) {
	fr := p.Freshness
	f.nonNegative("freshness.ttl", fr.TTL)
	f.nonNegative("freshness.staleWhileRevalidate", fr.StaleWhileRevalidate)
	f.nonNegative("freshness.staleIfError", fr.StaleIfError)
	f.nonNegative("freshness.negativeTTL", fr.NegativeTTL)
	f.nonNegative("freshness.jitter", fr.Jitter)
}

// validateOrigins checks the origins and returns the compiled key patterns
// of the valid ones (nil entries for invalid ones).
func (p *Policy) validateOrigins(f *fieldErrors) []*KeyPattern {
	if len(p.Origins) > MaxOrigins {
		f.add("origins", "has %d entries, at most %d are allowed", len(p.Origins), MaxOrigins)
		return nil
	}
	patterns := make([]*KeyPattern, len(p.Origins))
	for i, o := range p.Origins {
		field := fmt.Sprintf("origins[%d]", i)
		kp, err := CompileKeyPattern(o.KeyPattern)
		f.check(field+".keyPattern", err)
		if err == nil {
			patterns[i] = kp
			_, err := CompileURLTemplate(o.URLTemplate, kp.Wildcards())
			f.check(field+".urlTemplate", err)
		}
		f.nonNegative(field+".timeout", o.Timeout)
		f.nonNegative(field+".ttl", o.TTL)
		if len(o.Headers) > MaxHeaders {
			f.add(field+".headers", "has %d entries, at most %d are allowed", len(o.Headers), MaxHeaders)
		}
		for name, value := range o.Headers {
			if !validHeaderName(name) {
				f.add(field+".headers", "name %q is not a valid HTTP header name", name)
			}
			if strings.ContainsAny(value, "\r\n\x00") {
				f.add(field+".headers["+name+"]", "must not contain CR, LF or NUL")
			}
		}
		validateTags(f, field+".tags", o.Tags)
	}
	return patterns
}

func (p *Policy) validateWarming(f *fieldErrors, origins []*KeyPattern) {
	w := p.Warming
	if len(w.Keys) > MaxWarmKeys {
		f.add("warming.keys", "has %d entries, at most %d are allowed", len(w.Keys), MaxWarmKeys)
		return
	}
	for i, k := range w.Keys {
		field := fmt.Sprintf("warming.keys[%d]", i)
		if err := checkName(k); err != nil {
			f.check(field, err)
			continue
		}
		if !matchesAny(origins, k) {
			f.add(field, "%q matches no origin's keyPattern, so it cannot be loaded", k)
		}
	}
	if w.Concurrency < 0 || w.Concurrency > MaxWarmConcurrency {
		f.add("warming.concurrency", "must be between 0 and %d, got %d", MaxWarmConcurrency, w.Concurrency)
	}
	f.nonNegative("warming.timeout", w.Timeout)
	if w.Snapshot != "" {
		f.check("warming.snapshot", absPath(w.Snapshot))
	}
}

func matchesAny(patterns []*KeyPattern, key string) bool {
	for _, p := range patterns {
		if p == nil {
			continue
		}
		if _, ok := p.Match(key); ok {
			return true
		}
	}
	return false
}

func validateTags(f *fieldErrors, field string, tags []string) {
	if len(tags) > MaxTags {
		f.add(field, "has %d entries, at most %d are allowed", len(tags), MaxTags)
		return
	}
	for i, t := range tags {
		f.check(fmt.Sprintf("%s[%d]", field, i), checkName(t))
	}
}

func absPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("is required")
	case !filepath.IsAbs(p):
		return fmt.Errorf("must be an absolute path, got %q", p)
	case filepath.Clean(p) != p:
		return fmt.Errorf("must be a clean path (no '..', '//' or trailing '/'), got %q", p)
	}
	return nil
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
