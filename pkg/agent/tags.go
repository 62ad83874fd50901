package agent

import (
	"context"
	"errors"

	"github.com/layercache/layercache/pkg/cache"
)

// tagIndexes is the Stack's tag index: the agent's in-process index of the
// keys written through it (the local tiers) and, with a Redis layer, the
// index shared by every agent (pkg/cache/redistags). Writes go to both;
// a Stack-wide tag invalidation asks both, so it finds keys other agents
// wrote to Redis as well as keys only this agent's disk still holds.
//
// The two are kept apart because the operator invalidates the shared tier
// once (which drops the tag from the shared index) and then asks every
// agent to purge its local tiers: each agent then finds its keys in its own
// index.
//
// Writes to the shared index are best effort, like writes to the Redis
// layer (cache.WriteBestEffort): while Redis is down the entry is not in
// Redis either, so a write must not fail because its tags could not be
// recorded there. Such failures go to sharedFailed. Reads of the indexes
// (Keys) and Clear report every failure: an invalidation must not pass for
// complete when it is not.
type tagIndexes struct {
	local        cache.TagIndex
	shared       cache.TagIndex // nil without Redis
	sharedFailed func(error)
}

var _ cache.TagIndex = tagIndexes{}

func (t tagIndexes) Track(ctx context.Context, key string, tags []string, expiresAt int64) error {
	if t.shared != nil {
		if err := t.shared.Track(ctx, key, tags, expiresAt); err != nil {
			t.sharedFailed(err)
		}
	}
	return t.local.Track(ctx, key, tags, expiresAt)
}

func (t tagIndexes) Untrack(ctx context.Context, keys []string) error {
	if t.shared != nil {
		if err := t.shared.Untrack(ctx, keys); err != nil {
			t.sharedFailed(err)
		}
	}
	return t.local.Untrack(ctx, keys)
}

// Keys reports the keys of the local index, then those of the shared index
// the local one did not report. fn is never called with a lock held.
func (t tagIndexes) Keys(ctx context.Context, tags []string, all bool, batch int, fn func(keys []string) error) error {
	if t.shared == nil {
		return t.local.Keys(ctx, tags, all, batch, fn)
	}
	seen := make(map[string]struct{})
	err := t.local.Keys(ctx, tags, all, batch, func(keys []string) error {
		for _, k := range keys {
			seen[k] = struct{}{}
		}
		return fn(keys)
	})
	if err != nil {
		return err
	}
	return t.shared.Keys(ctx, tags, all, batch, func(keys []string) error {
		fresh := keys[:0:0]
		for _, k := range keys {
			if _, dup := seen[k]; !dup {
				fresh = append(fresh, k)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		return fn(fresh)
	})
}

func (t tagIndexes) Clear(ctx context.Context) error {
	err := t.local.Clear(ctx)
	if t.shared != nil {
		err = errors.Join(err, t.shared.Clear(ctx))
	}
	return err
}

// guardedTags puts the Redis breaker in front of the shared tag index, so
// that while Redis is down tag updates fail at once instead of waiting for
// dial timeouts.
type guardedTags struct {
	cache.TagIndex
	g guarded
}

func (t guardedTags) Track(ctx context.Context, key string, tags []string, expiresAt int64) error {
	return t.g.call(func() error { return t.TagIndex.Track(ctx, key, tags, expiresAt) })
}

func (t guardedTags) Untrack(ctx context.Context, keys []string) error {
	return t.g.call(func() error { return t.TagIndex.Untrack(ctx, keys) })
}

func (t guardedTags) Keys(ctx context.Context, tags []string, all bool, batch int, fn func(keys []string) error) error {
	return t.g.call(func() error { return t.TagIndex.Keys(ctx, tags, all, batch, fn) })
}

func (t guardedTags) Clear(ctx context.Context) error {
	return t.g.call(func() error { return t.TagIndex.Clear(ctx) })
}
