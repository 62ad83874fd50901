package redistags

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

const (
	// maxAttempts bounds ModeAtomic's optimistic retries per key.
	maxAttempts = 16
	// untrackBatch is how many keys Untrack updates per pipeline.
	untrackBatch = 256
)

// Index is a cache.TagIndex kept in Redis. Create it with New; the zero
// value is not usable. It is safe for concurrent use.
type Index struct {
	client  redis.UniversalClient
	prefix  string
	shards  int
	perSlot bool
	graceMs int64
	clock   Clock
	scripts scripts
}

// New returns an Index configured by opts, or an error naming the first
// invalid field. It sends no command: the scripts are loaded when first
// used.
func New(opts Options) (*Index, error) {
	c, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	return &Index{
		client:  c.client,
		prefix:  c.prefix,
		shards:  c.shards,
		perSlot: c.perSlot,
		graceMs: c.graceMs,
		clock:   c.clock,
		scripts: newScripts(),
	}, nil
}

// Mode returns the mode the Index updates Redis in: ModeAtomic or
// ModePerSlot, never ModeAuto.
func (ix *Index) Mode() Mode {
	if ix.perSlot {
		return ModePerSlot
	}
	return ModeAtomic
}

// update is one key's new state.
type update struct {
	key    string
	tags   []string // sorted, distinct; empty: untrack
	score  int64    // expiry score (ms)
	nowMs  int64
	record string // the record's Redis deadline (ms) as text, "" for none
}

// Track records that key carries exactly tags until expiresAt (Unix
// nanoseconds on the Index's clock; 0: never), replacing the tags it had.
// Duplicate tags count once. An empty tags, or an expiresAt that has already
// passed, removes the key from the index. Deadlines are kept in
// milliseconds, rounded up.
//
// In ModeAtomic Track is atomic; in ModePerSlot it is not (see the package
// documentation). It returns an error wrapping ErrContended when other
// clients kept retagging the key, and Redis errors as they come.
func (ix *Index) Track(ctx context.Context, key string, tags []string, expiresAt int64) error {
	now := ix.clock.NowNano()
	u := update{key: key, score: scoreOf(expiresAt), nowMs: floorMs(now)}
	if len(tags) > 0 && (expiresAt == 0 || expiresAt > now) {
		u.tags = normalize(tags)
	}
	if u.score < neverScore {
		u.record = strconv.FormatInt(u.score+ix.graceMs, 10)
	}
	var err error
	switch {
	case !ix.perSlot:
		err = ix.retag(ctx, []update{u})
	case len(u.tags) == 0:
		err = ix.untrackPerSlot(ctx, []string{key})
	default:
		err = ix.trackPerSlot(ctx, u)
	}
	if err != nil {
		return fmt.Errorf("redis tag index: track: %w", err)
	}
	return nil
}

// Untrack removes keys and their associations, in pipelines of 256 keys.
// Keys the index does not hold are ignored. In ModeAtomic each key is
// removed atomically; in ModePerSlot not (see the package documentation).
func (ix *Index) Untrack(ctx context.Context, keys []string) error {
	for chunk := range slices.Chunk(keys, untrackBatch) {
		var err error
		if ix.perSlot {
			err = ix.untrackPerSlot(ctx, chunk)
		} else {
			us := make([]update, len(chunk))
			for i, k := range chunk {
				us[i] = update{key: k}
			}
			err = ix.retag(ctx, us)
		}
		if err != nil {
			return fmt.Errorf("redis tag index: untrack: %w", err)
		}
	}
	return nil
}

// Clear deletes every Redis key that starts with the prefix: it walks them
// with SCAN (on every master of a *redis.ClusterClient, every shard of a
// *redis.Ring) and deletes each page with pipelined UNLINKs. It is not
// atomic: associations tracked while it runs may survive it.
func (ix *Index) Clear(ctx context.Context) error {
	var err error
	switch c := ix.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return ix.clearNode(ctx, node)
		})
	case *redis.Ring:
		err = c.ForEachShard(ctx, func(ctx context.Context, shard *redis.Client) error {
			return ix.clearNode(ctx, shard)
		})
	default:
		err = ix.clearNode(ctx, c)
	}
	if err != nil {
		return fmt.Errorf("redis tag index: clear: %w", err)
	}
	return nil
}

// scanCount is the COUNT hint of Clear's SCAN: roughly the keys deleted
// per round trip.
const scanCount = 1000

// clearNode deletes the prefix's keys on one server.
func (ix *Index) clearNode(ctx context.Context, c redis.Cmdable) error {
	pattern := globEscape(ix.prefix) + "*"
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, scanCount).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			// One UNLINK per key: on Cluster, keys of one node may sit in
			// different slots, which one multi-key command cannot span.
			_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Unlink(ctx, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// retag applies us in ModeAtomic, with one pipeline of scripts per attempt.
// The first attempt assumes each key carries the tags it is given (a
// rewrite with unchanged tags, or an Untrack of a key with no record); a
// key whose record differs is tried again with the tags the script
// reported.
func (ix *Index) retag(ctx context.Context, us []update) error {
	expected := make([][]string, len(us))
	for i, u := range us {
		expected[i] = u.tags
	}
	pending := make([]int, len(us))
	for i := range pending {
		pending[i] = i
	}
	for range maxAttempts {
		calls := make([]*evalCall, len(pending))
		err := ix.pipelined(ctx, func(p *pipe) {
			for j, i := range pending {
				keys, args := ix.retagArgs(us[i], expected[i])
				calls[j] = p.eval(ix.scripts.retag, keys, args...)
			}
		})
		if err != nil {
			return err
		}
		var retry []int
		for j, i := range pending {
			reply, err := calls[j].cmd.StringSlice()
			if err != nil {
				return err
			}
			if len(reply) == 0 || (reply[0] != "ok" && reply[0] != "retry") {
				return fmt.Errorf("unexpected script reply %q", reply)
			}
			if reply[0] == "retry" {
				expected[i] = reply[1:]
				retry = append(retry, i)
			}
		}
		if len(retry) == 0 {
			return nil
		}
		pending = retry
	}
	return ErrContended
}

// retagArgs returns the KEYS and ARGV of luaRetag for u, when the key's
// record is believed to hold old.
func (ix *Index) retagArgs(u update, old []string) ([]string, []any) {
	leave := without(old, u.tags)
	sh := ix.shard(u.key)
	keys := make([]string, 0, 1+2*(len(leave)+len(u.tags)))
	keys = append(keys, ix.recordKey(u.key))
	for _, t := range leave {
		m, e := ix.tagKeys(t, sh)
		keys = append(keys, m, e)
	}
	for _, t := range u.tags {
		m, e := ix.tagKeys(t, sh)
		keys = append(keys, m, e)
	}
	args := make([]any, 0, 8+len(old)+len(u.tags))
	args = append(args, u.key, u.score, u.nowMs, ix.graceMs, u.record, len(leave), len(u.tags), len(old))
	for _, t := range old {
		args = append(args, t)
	}
	for _, t := range u.tags {
		args = append(args, t)
	}
	return keys, args
}

// trackPerSlot files u.key under u.tags in ModePerSlot: one pipeline reads
// its record and adds it to its tags' sets, a second rewrites the record and
// removes the key from the tags it left. Adding first means the record never
// names a tag whose sets lack the key.
func (ix *Index) trackPerSlot(ctx context.Context, u update) error {
	rec := ix.recordKey(u.key)
	sh := ix.shard(u.key)
	var old *redis.StringSliceCmd
	err := ix.pipelined(ctx, func(p *pipe) {
		old = p.p.SMembers(ctx, rec)
		for _, t := range u.tags {
			m, e := ix.tagKeys(t, sh)
			p.eval(ix.scripts.tagAdd, []string{m, e}, u.key, u.score, u.nowMs, ix.graceMs)
		}
	})
	if err != nil {
		return err
	}
	leave := without(old.Val(), u.tags)
	return ix.pipelined(ctx, func(p *pipe) {
		args := make([]any, 0, 1+len(u.tags))
		args = append(args, u.record)
		for _, t := range u.tags {
			args = append(args, t)
		}
		p.eval(ix.scripts.setRecord, []string{rec}, args...)
		for _, t := range leave {
			m, e := ix.tagKeys(t, sh)
			p.p.ZRem(ctx, m, u.key)
			p.p.ZRem(ctx, e, u.key)
		}
	})
}

// untrackPerSlot removes keys in ModePerSlot: one pipeline reads their
// records, one removes them from their tags' sets and, once that has
// succeeded, one deletes the records. (A pipeline with nothing to send
// costs no round trip.)
func (ix *Index) untrackPerSlot(ctx context.Context, keys []string) error {
	recs := make([]*redis.StringSliceCmd, len(keys))
	err := ix.pipelined(ctx, func(p *pipe) {
		for i, k := range keys {
			recs[i] = p.p.SMembers(ctx, ix.recordKey(k))
		}
	})
	if err != nil {
		return err
	}
	err = ix.pipelined(ctx, func(p *pipe) {
		for i, k := range keys {
			sh := ix.shard(k)
			for _, t := range recs[i].Val() {
				m, e := ix.tagKeys(t, sh)
				p.p.ZRem(ctx, m, k)
				p.p.ZRem(ctx, e, k)
			}
		}
	})
	if err != nil {
		return err
	}
	return ix.pipelined(ctx, func(p *pipe) {
		for i, k := range keys {
			// Redis deletes an emptied set, so an empty reply means
			// there is no record: a key that was never tagged costs
			// one round trip.
			if len(recs[i].Val()) > 0 {
				p.p.Unlink(ctx, ix.recordKey(k))
			}
		}
	})
}

// recordKey is the Redis key of key's record.
func (ix *Index) recordKey(key string) string { return ix.prefix + "k:" + key }

// tagKeys are the Redis keys of tag's sets in shard sh: members by name (m)
// and by expiry (e). Both have the hash tag {<sh>:<tag>} (cut short at the
// first '}' in tag, identically for both), so they share a slot.
func (ix *Index) tagKeys(tag string, sh int) (m, e string) {
	base := ix.prefix + "t:{" + strconv.Itoa(sh) + ":" + tag + "}:"
	return base + "m", base + "e"
}

// shard returns key's shard: FNV-1a of its bytes, modulo the shard count.
func (ix *Index) shard(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(ix.shards))
}

// scoreOf converts a deadline in Unix ns (0: never) to an expiry score:
// Unix ms rounded up, or neverScore.
func scoreOf(expiresAt int64) int64 {
	if expiresAt == 0 {
		return neverScore
	}
	ms := expiresAt / 1e6
	if expiresAt > 0 && expiresAt%1e6 != 0 {
		ms++
	}
	return min(ms, neverScore)
}

// floorMs converts Unix ns to Unix ms, rounded down: an association whose
// score is at most this has expired.
func floorMs(ns int64) int64 {
	ms := ns / 1e6
	if ns < 0 && ns%1e6 != 0 {
		ms--
	}
	return ms
}

// normalize returns a sorted copy of tags without duplicates.
func normalize(tags []string) []string {
	ts := slices.Clone(tags)
	slices.Sort(ts)
	return slices.Clip(slices.Compact(ts))
}

// without returns the tags of a that are not in b (b sorted).
func without(a, b []string) []string {
	var out []string
	for _, t := range a {
		if _, found := slices.BinarySearch(b, t); !found {
			out = append(out, t)
		}
	}
	return out
}

// globEscape escapes the characters special to Redis glob patterns (as
// SCAN MATCH reads them), so that s matches only itself.
func globEscape(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			if b == nil {
				b = append(make([]byte, 0, len(s)+8), s[:i]...)
			}
			b = append(b, '\\', c)
		default:
			if b != nil {
				b = append(b, c)
			}
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}
