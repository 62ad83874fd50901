package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/layercache/layercache/pkg/cache/glob"
)

// invalidateBatch is how many keys one invalidation step removes: large
// invalidations run as many bounded steps, never one huge command.
const invalidateBatch = 500

// InvalidateTag removes every entry of s (the namespace, when s is one) that
// carries tag, from every layer, and returns how many keys it removed.
func (s *Stack) InvalidateTag(ctx context.Context, tag string) (int, error) {
	return s.InvalidateTags(ctx, []string{tag}, MatchAny)
}

// InvalidateTags removes the entries carrying any (MatchAny) or all
// (MatchAll) of tags. Invalidations of any size run in batches.
func (s *Stack) InvalidateTags(ctx context.Context, tags []string, match TagMatch) (int, error) {
	return s.byTags(ctx, tags, match, false)
}

// ExpireTag marks the entries carrying tag stale instead of removing them:
// within a stale-while-revalidate window the next Get serves the old value
// while one refresh replaces it; without a window they behave as removed.
func (s *Stack) ExpireTag(ctx context.Context, tag string) (int, error) {
	return s.byTags(ctx, []string{tag}, MatchAny, true)
}

// ExpireTags is InvalidateTags with ExpireTag's semantics.
func (s *Stack) ExpireTags(ctx context.Context, tags []string, match TagMatch) (int, error) {
	return s.byTags(ctx, tags, match, true)
}

// InvalidatePrefix removes every entry whose key (within s's namespace)
// starts with prefix.
func (s *Stack) InvalidatePrefix(ctx context.Context, prefix string) (int, error) {
	return s.byPattern(ctx, prefix, true, false)
}

// ExpirePrefix is InvalidatePrefix with ExpireTag's semantics.
func (s *Stack) ExpirePrefix(ctx context.Context, prefix string) (int, error) {
	return s.byPattern(ctx, prefix, true, true)
}

// InvalidatePattern removes every entry whose key (within s's namespace)
// matches pattern: `*` matches any run of characters, `?` one character, `\`
// escapes (see package glob). Matching is linear-time; a pattern never
// matches keys outside s's namespace.
func (s *Stack) InvalidatePattern(ctx context.Context, pattern string) (int, error) {
	return s.byPattern(ctx, pattern, false, false)
}

// ExpirePattern is InvalidatePattern with ExpireTag's semantics.
func (s *Stack) ExpirePattern(ctx context.Context, pattern string) (int, error) {
	return s.byPattern(ctx, pattern, false, true)
}

// Expire marks key stale in every layer (see ExpireTag).
func (s *Stack) Expire(ctx context.Context, key string) error {
	c := s.c
	if c.closed.Load() {
		return ErrClosed
	}
	qk, err := s.qualify(key)
	if err != nil {
		return err
	}
	_, err = c.removeKeys(ctx, []string{qk}, true)
	return err
}

func (s *Stack) byTags(ctx context.Context, tags []string, match TagMatch, expire bool) (int, error) {
	c := s.c
	if c.closed.Load() {
		return 0, ErrClosed
	}
	if len(tags) == 0 {
		return 0, fmt.Errorf("%w: no tags given", ErrInvalidKey)
	}
	if err := validateTags(tags); err != nil {
		return 0, err
	}
	c.supersedeFetches()
	total := 0
	err := c.tags.Keys(ctx, tags, match == MatchAll, invalidateBatch, func(keys []string) error {
		keys = s.own(keys)
		n, err := c.removeKeys(ctx, keys, expire)
		total += n
		return err
	})
	c.metrics.invalidations.inc()
	return total, err
}

// supersedeFetches makes every fetch already running skip its store. A
// tag, prefix or pattern invalidation cannot know which running fetches
// will produce keys it covers (the keys are not stored yet), so it fences
// them all; their callers still get their values, and the next Get fetches
// again. Over-fencing costs a refetch, never a stale entry.
func (c *core) supersedeFetches() {
	c.fences.clearAll(func() {})
	c.flight.ForgetAll()
}

// own keeps the keys of s's namespace.
func (s *Stack) own(keys []string) []string {
	p := s.fullPrefix()
	if p == "" {
		return keys
	}
	out := keys[:0:0]
	for _, k := range keys {
		if strings.HasPrefix(k, p) {
			out = append(out, k)
		}
	}
	return out
}

func (s *Stack) byPattern(ctx context.Context, pattern string, isPrefix, expire bool) (int, error) {
	c := s.c
	if c.closed.Load() {
		return 0, ErrClosed
	}
	var match func(string) bool
	nsPrefix := s.fullPrefix()
	scanPrefix := nsPrefix
	if isPrefix {
		if err := validateName("prefix", pattern); err != nil {
			return 0, err
		}
		scanPrefix += pattern
	} else {
		p, err := glob.Compile(pattern)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", ErrInvalidKey, err)
		}
		scanPrefix += p.Prefix()
		n := len(nsPrefix)
		match = func(k string) bool { return p.Match(k[n:]) }
	}
	c.supersedeFetches()
	// Scan every layer: a key may live only in a slower one. Each layer's
	// keys are removed from all layers, batch by batch.
	total := 0
	var errs []error
	for i := range c.layers {
		l := &c.layers[i]
		batch := make([]string, 0, invalidateBatch)
		var stepErr error
		flush := func() bool {
			n, err := c.removeKeys(ctx, batch, expire)
			total += n
			batch = batch[:0]
			stepErr = err
			return err == nil
		}
		err := l.Scan(ctx, scanPrefix, func(k string) bool {
			if match != nil && !match(k) {
				return true
			}
			batch = append(batch, k)
			if len(batch) == invalidateBatch {
				return flush()
			}
			return true
		})
		if err == nil && stepErr == nil && len(batch) > 0 {
			flush()
		}
		if err != nil {
			errs = append(errs, c.layerErr(l, "scan", scanPrefix, err))
		}
		if stepErr != nil {
			errs = append(errs, stepErr)
		}
	}
	c.metrics.invalidations.inc()
	return total, errors.Join(errs...)
}

// removeKeys deletes (or expires) qualified keys in every layer as one
// fenced write, and drops them from the tag index. It reports how many keys
// it handled.
func (c *core) removeKeys(ctx context.Context, keys []string, expire bool) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	keys = dedupe(keys)
	var errs []error
	c.fences.writeMany(keys, func() {
		for li := len(c.layers) - 1; li >= 0; li-- {
			l := &c.layers[li]
			var err error
			if expire {
				err = c.expireInLayer(ctx, l, keys)
			} else {
				err = l.DeleteMany(ctx, keys)
			}
			if err != nil {
				errs = append(errs, c.layerErr(l, "invalidate", "", err))
			}
		}
		if !expire {
			if err := c.untrack(ctx, keys); err != nil {
				errs = append(errs, err)
			}
		}
	})
	for _, k := range keys {
		c.flight.Forget(k)
	}
	kind := BusDelete
	if expire {
		kind = BusExpire
	}
	c.publish(ctx, BusMessage{Kind: kind, Keys: keys})
	if expire {
		c.metrics.expirations.add(uint64(len(keys)))
	} else {
		c.metrics.deletes.add(uint64(len(keys)))
	}
	if c.events.active() {
		typ := EventDelete
		if expire {
			typ = EventExpire
		}
		for _, k := range keys {
			c.events.emit(Event{Type: typ, Key: k})
		}
	}
	return len(keys), errors.Join(errs...)
}

// expireInLayer rewrites the entries of keys in l so that they are no
// longer fresh. An entry already past freshness keeps its windows (an entry
// in its stale-if-error window is not revived into stale-while-revalidate).
func (c *core) expireInLayer(ctx context.Context, l *layerState, keys []string) error {
	entries, found, err := l.GetMany(ctx, keys)
	if err != nil {
		return err
	}
	now := c.clock.NowNano()
	items := make([]Item, 0, len(keys))
	var drop []string
	for i, e := range entries {
		if !found[i] {
			continue
		}
		if e.FreshUntil != 0 && e.FreshUntil <= now {
			continue // already stale
		}
		e.FreshUntil = now
		if e.StaleUntil == 0 && e.ErrorUntil == 0 {
			drop = append(drop, keys[i]) // no window to serve from: same as a delete
			continue
		}
		// A window that has already passed is dropped, so the rewritten
		// entry stays a valid envelope (windows end at or after FreshUntil).
		if e.StaleUntil != 0 && e.StaleUntil < now {
			e.StaleUntil = 0
		}
		if e.ErrorUntil != 0 && e.ErrorUntil < now {
			e.ErrorUntil = 0
		}
		if e.StaleUntil == 0 && e.ErrorUntil == 0 {
			drop = append(drop, keys[i])
			continue
		}
		items = append(items, Item{Key: keys[i], Entry: e})
	}
	var errs []error
	if len(items) > 0 {
		errs = append(errs, l.SetMany(ctx, items))
	}
	if len(drop) > 0 {
		errs = append(errs, l.DeleteMany(ctx, drop))
	}
	return errors.Join(errs...)
}
