package redistags

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Keys calls fn with the keys that carry any of tags (all false) or every
// one of them (all true), each key once, in batches of at most batch keys,
// until fn returns an error, which Keys returns as is. An empty tags
// matches nothing. Associations whose deadline has passed on the Index's
// clock are not reported.
//
// Keys first counts every tag's members in every shard (one pipeline), then
// walks shard by shard. For all false it walks each tag's set in byte order,
// one script call per page of batch keys, and drops the keys already
// reported for an earlier tag (a pipelined ZMSCORE against those tags); for
// all true it walks the smallest of the tags' sets and keeps the keys that
// every other tag holds. Pages resume after the last key read rather than
// at an offset, so keys that fn (or another client) untracks meanwhile do
// not make Keys skip others.
//
// Keys is not a snapshot: a key tracked or untracked while it runs may or
// may not be reported, and one that is untracked and tracked again under a
// tag Keys has yet to walk can be reported twice. fn is called with no lock held and owns each slice.
// Keys returns an error without calling fn if batch is not positive, and an
// error wrapping ctx.Err() if ctx ends.
func (ix *Index) Keys(ctx context.Context, tags []string, all bool, batch int, fn func(keys []string) error) error {
	if batch <= 0 {
		return fmt.Errorf("redis tag index: batch must be positive, got %d", batch)
	}
	ts := normalize(tags)
	if len(ts) == 0 {
		return nil
	}
	w := walk{ix: ix, tags: ts, batch: batch, nowMs: floorMs(ix.clock.NowNano()), fn: fn}
	if err := w.count(ctx); err != nil {
		return fmt.Errorf("redis tag index: keys: %w", err)
	}
	for sh := range ix.shards {
		var err error
		if all {
			err = w.matchAll(ctx, sh)
		} else {
			err = w.matchAny(ctx, sh)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// walk is the state of one Keys call.
type walk struct {
	ix    *Index
	tags  []string // sorted, distinct
	batch int
	nowMs int64
	fn    func([]string) error
	cards [][]int64 // cards[shard][tag]: members of the tag's set in the shard
}

// count fills w.cards with one pipeline of ZCARDs.
func (w *walk) count(ctx context.Context) error {
	cmds := make([][]*redis.IntCmd, w.ix.shards)
	err := w.ix.pipelined(ctx, func(p *pipe) {
		for sh := range cmds {
			cmds[sh] = make([]*redis.IntCmd, len(w.tags))
			for i, t := range w.tags {
				m, _ := w.ix.tagKeys(t, sh)
				cmds[sh][i] = p.p.ZCard(ctx, m)
			}
		}
	})
	if err != nil {
		return err
	}
	w.cards = make([][]int64, len(cmds))
	for sh, row := range cmds {
		w.cards[sh] = make([]int64, len(row))
		for i, c := range row {
			w.cards[sh][i] = c.Val()
		}
	}
	return nil
}

// matchAny reports shard sh's keys that carry any of the tags.
func (w *walk) matchAny(ctx context.Context, sh int) error {
	for i, t := range w.tags {
		if w.cards[sh][i] == 0 {
			continue
		}
		earlier := w.tags[:i]
		err := w.pages(ctx, t, sh, func(keys []string) ([]string, error) {
			// Drop the keys an earlier tag holds: they were reported
			// with it (or untracked since, which removed them here too).
			return w.filter(ctx, sh, earlier, keys, false)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// matchAll reports shard sh's keys that carry every tag.
func (w *walk) matchAll(ctx context.Context, sh int) error {
	driver := 0
	for i, n := range w.cards[sh] {
		if n == 0 {
			return nil
		}
		if n < w.cards[sh][driver] {
			driver = i
		}
	}
	others := make([]string, 0, len(w.tags)-1)
	others = append(others, w.tags[:driver]...)
	others = append(others, w.tags[driver+1:]...)
	return w.pages(ctx, w.tags[driver], sh, func(keys []string) ([]string, error) {
		return w.filter(ctx, sh, others, keys, true)
	})
}

// pages walks tag's set in shard sh, one page of w.batch keys per round
// trip, and calls w.fn with the live keys of each page that keep returns.
func (w *walk) pages(ctx context.Context, tag string, sh int, keep func([]string) ([]string, error)) error {
	m, e := w.ix.tagKeys(tag, sh)
	start := "-"
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("redis tag index: keys: %w", err)
		}
		reply, err := w.ix.scripts.page.Run(ctx, w.ix.client, []string{m, e}, start, w.batch, w.nowMs).StringSlice()
		if err != nil {
			return fmt.Errorf("redis tag index: keys: %w", err)
		}
		if len(reply) < 2 {
			return fmt.Errorf("redis tag index: keys: unexpected script reply %q", reply)
		}
		read, err := strconv.Atoi(reply[0])
		if err != nil {
			return fmt.Errorf("redis tag index: keys: unexpected script reply %q", reply[:2])
		}
		keys := reply[2:]
		if len(keys) > 0 {
			if keys, err = keep(keys); err != nil {
				return fmt.Errorf("redis tag index: keys: %w", err)
			}
		}
		if len(keys) > 0 {
			if err := w.fn(keys); err != nil {
				return err
			}
		}
		if read < w.batch {
			return nil
		}
		start = "(" + reply[1]
	}
}

// filter returns the keys that every one of tags holds live in shard sh
// (in true) or that none of them does (in false), with one pipeline of
// ZMSCOREs. It reuses the keys slice.
func (w *walk) filter(ctx context.Context, sh int, tags, keys []string, in bool) ([]string, error) {
	if len(tags) == 0 {
		return keys, nil
	}
	cmds := make([]*redis.FloatSliceCmd, len(tags))
	err := w.ix.pipelined(ctx, func(p *pipe) {
		for i, t := range tags {
			_, e := w.ix.tagKeys(t, sh)
			cmds[i] = p.p.ZMScore(ctx, e, keys...)
		}
	})
	if err != nil {
		return nil, err
	}
	live := float64(w.nowMs)
	out := keys[:0]
	for j, k := range keys {
		held := 0
		for _, c := range cmds {
			if s := c.Val(); j < len(s) && s[j] > live {
				held++
			}
		}
		if (in && held == len(tags)) || (!in && held == 0) {
			out = append(out, k)
		}
	}
	return out, nil
}
