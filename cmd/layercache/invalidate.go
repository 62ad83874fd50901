package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/glob"
	"github.com/layercache/layercache/pkg/cache/redisbus"
	"github.com/layercache/layercache/pkg/cache/redistags"
)

// Defaults of invalidate's flags.
const (
	// defaultMaxWithoutForce is how many keys invalidate deletes without
	// --force.
	defaultMaxWithoutForce = 1_000
	// refusalSample is how many of the keys it would delete a refused
	// invalidation shows.
	refusalSample = 20
)

// Selectors: what picks the keys to invalidate.
const (
	selTag       = "tag"
	selKeyPrefix = "key-prefix"
	selPattern   = "pattern"
	selKey       = "key"
)

// invalidateCmd deletes entries from the Redis layer, removes them from the
// Redis tag index and publishes the deletion on the invalidation bus, so
// that the other instances drop their local (memory, disk) copies.
type invalidateCmd struct {
	tag, keyPrefix, patternFlag, key string

	force           bool
	dryRun          bool
	maxWithoutForce int
	limit           int
	tagIndexPrefix  string
	tagIndexShards  int
	busChannel      string
	busSecretFile   string
	noPublish       bool

	selector string // one of the sel constants
	value    string // the selector's argument
	pattern  *glob.Pattern
}

func (c *invalidateCmd) register(fs *flag.FlagSet) {
	fs.StringVar(&c.tag, "tag", "", "invalidate the keys carrying this tag, as the Redis tag index lists them")
	fs.StringVar(&c.keyPrefix, "key-prefix", "", "invalidate the cache keys starting with this prefix")
	fs.StringVar(&c.patternFlag, "pattern", "", "invalidate the cache keys matching this glob")
	fs.StringVar(&c.key, "key", "", "invalidate this cache key")
	fs.BoolVar(&c.force, "force", false,
		"delete however many keys match, even with a pattern that matches every key")
	fs.BoolVar(&c.dryRun, "dry-run", false, "list the keys that would be invalidated and change nothing")
	fs.IntVar(&c.maxWithoutForce, "max-without-force", defaultMaxWithoutForce,
		"most keys deleted without --force; above it nothing is deleted")
	fs.IntVar(&c.limit, "limit", defaultLimit, "most keys a dry run lists")
	fs.StringVar(&c.tagIndexPrefix, "tag-index-prefix", redistags.DefaultPrefix,
		"key prefix of the Redis tag index (redistags.Options.Prefix)")
	fs.IntVar(&c.tagIndexShards, "tag-index-shards", redistags.DefaultShards,
		"shards of the Redis tag index (redistags.Options.Shards); must match the application's")
	fs.StringVar(&c.busChannel, "bus-channel", redisbus.DefaultChannel, "pub/sub channel of the invalidation bus")
	fs.StringVar(&c.busSecretFile, "bus-secret-file", "",
		"file holding the bus's HMAC secret (one trailing newline is ignored); without it messages are unsigned")
	fs.BoolVar(&c.noPublish, "no-publish", false, "do not publish on the invalidation bus")
}

func (c *invalidateCmd) check() error {
	var n int
	for _, s := range []struct{ sel, v string }{
		{selTag, c.tag}, {selKeyPrefix, c.keyPrefix}, {selPattern, c.patternFlag}, {selKey, c.key},
	} {
		if s.v != "" {
			n++
			c.selector, c.value = s.sel, s.v
		}
	}
	if n != 1 {
		return usagef("give exactly one of --tag, --key-prefix, --pattern and --key")
	}
	var err error
	switch c.selector {
	case selTag:
		err = cache.ValidateTag(c.tag)
	case selKeyPrefix, selKey:
		err = cache.ValidateKey(c.value)
	case selPattern:
		c.pattern, err = glob.Compile(c.patternFlag)
	}
	if err != nil {
		return usagef("--%s: %v", c.selector, err)
	}
	switch {
	case c.force && c.dryRun:
		return usagef("--force and --dry-run exclude each other")
	case c.maxWithoutForce < 0:
		return usagef("--max-without-force is %d; it must not be negative", c.maxWithoutForce)
	case c.noPublish && (c.busSecretFile != "" || c.busChannel != redisbus.DefaultChannel):
		return usagef("--no-publish excludes --bus-channel and --bus-secret-file")
	}
	return checkLimit(c.limit)
}

// matchesEverything reports a pattern made only of wildcards with at least
// one '*': it matches (nearly) every key of the layer.
func (c *invalidateCmd) matchesEverything() bool {
	return c.selector == selPattern && strings.Contains(c.patternFlag, "*") &&
		strings.Trim(c.patternFlag, "*?") == ""
}

// invalidateResult is the output of invalidate.
type invalidateResult struct {
	Selector    string `json:"selector"`
	Value       string `json:"value"`
	LayerPrefix string `json:"layerPrefix"`
	DryRun      bool   `json:"dryRun,omitempty"`
	// Refused: without --force, nothing was deleted; Keys is a sample.
	Refused bool `json:"refused,omitempty"`
	// Matched counts the keys selected (with --force, a key SCAN reports
	// twice counts twice); Deleted those Redis held and removed.
	Matched   int `json:"matched"`
	Deleted   int `json:"deleted"`
	Untracked int `json:"untracked"`
	// PublishedKeys counts the keys sent in delete messages on the bus;
	// PublishedClear is set when a clear of the key prefix was sent.
	PublishedKeys  int    `json:"publishedKeys"`
	PublishedClear bool   `json:"publishedClear,omitempty"`
	BusChannel     string `json:"busChannel,omitempty"`
	// Truncated: more keys match than Matched says (a dry run stopped at
	// --limit, a refusal at --max-without-force + 1).
	Truncated bool     `json:"truncated,omitempty"`
	Keys      []string `json:"keys,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// invalidation is one run of invalidate.
type invalidation struct {
	c   *invalidateCmd
	e   *env
	idx *redistags.Index
	bus *redisbus.Bus // nil: do not publish
	r   invalidateResult
}

// errStop ends a walk early; it is never returned to the user.
var errStop = errors.New("stop")

func (c *invalidateCmd) run(ctx context.Context, e *env) error {
	idx, err := redistags.New(redistags.Options{Client: e.client, Prefix: c.tagIndexPrefix, Shards: c.tagIndexShards})
	if err != nil {
		return err
	}
	inv := &invalidation{c: c, e: e, idx: idx, r: invalidateResult{
		Selector: c.selector, Value: c.value, LayerPrefix: e.prefix, DryRun: c.dryRun,
	}}
	if e.prefix == "" && (c.selector == selKeyPrefix || c.selector == selPattern) {
		e.warnf("no --prefix: keys of the whole database are matched, other applications' included")
	}
	if c.dryRun {
		return inv.dryRun(ctx)
	}
	// Publish-only, the bus starts nothing: Close has nothing to report.
	defer func() {
		if inv.bus != nil {
			_ = inv.bus.Close()
		}
	}()
	if c.force {
		if err = inv.openBus(); err == nil {
			err = inv.walk(ctx, inv.remove)
		}
	} else {
		err = inv.guarded(ctx)
	}
	if c.selector == selKeyPrefix && inv.bus != nil {
		// Instances may hold local copies of keys Redis no longer has:
		// one clear of the prefix reaches them all.
		err = errors.Join(err, inv.publish(ctx, cache.BusMessage{Kind: cache.BusClear, Prefix: c.keyPrefix}))
	}
	if err != nil && !inv.r.Refused {
		inv.r.Error = e.mask.mask(err.Error())
	}
	if perr := e.out.emit(&inv.r, inv.r.table); perr != nil {
		return errors.Join(err, perr)
	}
	return err
}

// openBus opens a publish-only bus on the configured channel, unless
// --no-publish.
func (inv *invalidation) openBus() error {
	c := inv.c
	if c.noPublish {
		return nil
	}
	var secret []byte
	if c.busSecretFile != "" {
		b, err := readSecret(c.busSecretFile)
		if err != nil {
			return err
		}
		secret = b
	} else {
		inv.e.warnf("publishing unsigned bus messages (no --bus-secret-file): instances that have a secret drop them")
	}
	bus, err := redisbus.New(redisbus.Options{Client: inv.e.client, Channel: c.busChannel, Secret: secret})
	if err != nil {
		return err
	}
	inv.bus, inv.r.BusChannel = bus, bus.Channel()
	return nil
}

// walk calls fn with the selected keys, batch by batch (at most 500 keys),
// until fn returns false or an error.
func (inv *invalidation) walk(ctx context.Context, fn func(ctx context.Context, keys []string) (bool, error)) error {
	c, e := inv.c, inv.e
	var err error
	switch c.selector {
	case selKey:
		_, err = fn(ctx, []string{c.key})
	case selTag:
		err = inv.idx.Keys(ctx, []string{c.tag}, false, batchSize, func(keys []string) error {
			more, err := fn(ctx, keys)
			if err == nil && !more {
				return errStop
			}
			return err
		})
		if errors.Is(err, errStop) {
			err = nil
		}
	case selKeyPrefix:
		sel := selection{layerPrefix: e.prefix, keyPrefix: c.keyPrefix}
		err = sel.scan(ctx, e.client, func(keys []string) (bool, error) { return fn(ctx, keys) })
	case selPattern:
		err = newSelection(e.prefix, c.pattern).scan(ctx, e.client, func(keys []string) (bool, error) { return fn(ctx, keys) })
	}
	return err
}

// gather returns up to limit distinct selected keys, sorted, and whether
// more were selected.
func (inv *invalidation) gather(ctx context.Context, limit int) (keys []string, more bool, err error) {
	seen := make(map[string]struct{})
	err = inv.walk(ctx, func(_ context.Context, batch []string) (bool, error) {
		for _, k := range batch {
			if _, dup := seen[k]; dup {
				continue
			}
			if len(keys) == limit {
				more = true
				return false, nil
			}
			seen[k] = struct{}{}
			keys = append(keys, k)
		}
		return true, nil
	})
	slices.Sort(keys)
	return keys, more, err
}

func (inv *invalidation) dryRun(ctx context.Context) error {
	keys, more, err := inv.gather(ctx, inv.c.limit)
	if err != nil {
		return err
	}
	if more {
		inv.e.warnf("stopped after --limit %d keys: the list is partial", inv.c.limit)
	}
	inv.r.Matched, inv.r.Truncated, inv.r.Keys = len(keys), more, keys
	if keys == nil {
		inv.r.Keys = []string{}
	}
	return inv.e.out.emit(&inv.r, inv.r.table)
}

// guarded deletes the selected keys unless there are more than
// --max-without-force of them, or the pattern matches every key; then it
// deletes nothing and returns an error saying why.
func (inv *invalidation) guarded(ctx context.Context) error {
	c := inv.c
	keys, more, err := inv.gather(ctx, c.maxWithoutForce)
	if err != nil {
		return err
	}
	var why string
	switch {
	case more:
		why = fmt.Sprintf("more than --max-without-force (%d) keys match", c.maxWithoutForce)
	case c.matchesEverything() && len(keys) > 0:
		why = fmt.Sprintf("pattern %q matches every key", c.patternFlag)
	}
	if why == "" {
		if err := inv.openBus(); err != nil {
			return err
		}
		return chunks(keys, batchSize, func(batch []string) error {
			_, err := inv.remove(ctx, batch)
			return err
		})
	}
	inv.r.Refused = true
	inv.r.Matched, inv.r.Truncated = len(keys), more
	inv.r.Keys = keys[:min(len(keys), refusalSample)]
	return fmt.Errorf("refusing to invalidate without --force: %s; nothing was deleted", why)
}

// remove invalidates one batch of keys: UNLINK from Redis, publish on the
// bus, untrack from the tag index. Publishing comes before untracking: a
// local copy left behind serves stale data, a stale index entry only costs
// a needless delete later.
func (inv *invalidation) remove(ctx context.Context, keys []string) (bool, error) {
	e := inv.e
	cmds := make([]*redis.IntCmd, len(keys))
	err := pipelined(ctx, e.client, func(p redis.Pipeliner) {
		for i, k := range keys {
			cmds[i] = p.Unlink(ctx, e.prefix+k) // one key per command: Cluster-safe
		}
	})
	if err != nil {
		return false, fmt.Errorf("unlink %d keys: %w", len(keys), err)
	}
	for i, cmd := range cmds {
		n, err := cmd.Result()
		if err != nil {
			return false, fmt.Errorf("unlink %q: %w", keys[i], err)
		}
		inv.r.Deleted += int(n)
	}
	inv.r.Matched += len(keys)
	if inv.bus != nil && inv.c.selector != selKeyPrefix {
		if err := inv.publish(ctx, cache.BusMessage{Kind: cache.BusDelete, Keys: keys}); err != nil {
			return false, err
		}
		inv.r.PublishedKeys += len(keys)
	}
	if err := inv.idx.Untrack(ctx, keys); err != nil {
		return false, err
	}
	inv.r.Untracked += len(keys)
	return true, nil
}

func (inv *invalidation) publish(ctx context.Context, m cache.BusMessage) error {
	if err := inv.bus.Publish(ctx, m); err != nil {
		return fmt.Errorf("deleted from Redis, but other instances keep their local copies: %w", err)
	}
	if m.Kind == cache.BusClear {
		inv.r.PublishedClear = true
	}
	return nil
}

func (r *invalidateResult) table(w io.Writer) {
	switch {
	case r.DryRun:
		more := ""
		if r.Truncated {
			more = " (stopped at --limit)"
		}
		printf(w, "dry run: would invalidate %d keys%s (%s %s, layer prefix %s)\n",
			r.Matched, more, r.Selector, safe(r.Value), showPrefix(r.LayerPrefix))
		for _, k := range r.Keys {
			row(w, safe(k))
		}
		return
	case r.Refused:
		count := fmt.Sprint(r.Matched)
		if r.Truncated {
			count = "more than " + fmt.Sprint(r.Matched)
		}
		printf(w, "refused: would invalidate %s keys (%s %s, layer prefix %s); rerun with --force. Some of them:\n",
			count, r.Selector, safe(r.Value), showPrefix(r.LayerPrefix))
		for _, k := range r.Keys {
			row(w, safe(k))
		}
		return
	}
	row(w, "FIELD", "VALUE")
	row(w, "selector", r.Selector+" "+safe(r.Value))
	row(w, "layer prefix", showPrefix(r.LayerPrefix))
	row(w, "matched", r.Matched)
	row(w, "deleted", r.Deleted)
	row(w, "untracked", r.Untracked)
	bus := "not published"
	if r.BusChannel != "" {
		bus = fmt.Sprintf("%d keys on %s", r.PublishedKeys, safe(r.BusChannel))
		if r.PublishedClear {
			bus = fmt.Sprintf("clear of prefix %s on %s", safe(r.Value), safe(r.BusChannel))
		}
	}
	row(w, "published", bus)
	if r.Error != "" {
		row(w, "error", safe(r.Error))
	}
}

// readSecret reads the bus secret from path, without one trailing newline.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--bus-secret-file: %w", err)
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if len(b) == 0 {
		return nil, fmt.Errorf("--bus-secret-file %s is empty", path)
	}
	return b, nil
}
