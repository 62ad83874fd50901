package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/glob"
)

// invalidateBatch is how many keys one step of a local or shared
// invalidation removes.
const invalidateBatch = 500

// invalidate removes the entries target selects from the tiers scope names
// and returns how many keys it removed (0 for target all, which is not
// counted).
//
//   - LayersAll goes through the Stack: every tier, fenced against fetches
//     in flight, and published on the bus so other agents drop their local
//     copies.
//   - LayersLocal purges memory and disk only, through the Stack's bus
//     handler: fenced too, never published, Redis untouched. Keys are
//     found by scanning the local tiers (prefixes, patterns) or in the
//     local tag index (tags).
//   - LayersShared purges Redis only, directly: keys are found by scanning
//     it or in the shared tag index. It is not fenced against this agent's
//     fetches in flight; the "local" pass the operator sends next, to every
//     agent, fences them. Without a Redis tier it does nothing.
func (rt *runtime) invalidate(ctx context.Context, scope agentapi.LayerScope, t agentapi.InvalidationTarget) (int, error) {
	if err := t.Validate(); err != nil {
		return 0, err
	}
	switch scope {
	case agentapi.LayersLocal:
		return rt.invalidateLocal(ctx, t)
	case agentapi.LayersShared:
		return rt.invalidateShared(ctx, t)
	default:
		return rt.invalidateAll(ctx, t)
	}
}

func (rt *runtime) invalidateAll(ctx context.Context, t agentapi.InvalidationTarget) (int, error) {
	s := rt.stack
	switch {
	case t.Tags != nil:
		return s.InvalidateTags(ctx, t.Tags.Values, tagMatch(t.Tags.Match))
	case t.Keys != nil:
		keys := dedupe(t.Keys)
		return len(keys), s.DeleteMany(ctx, keys)
	case t.Prefixes != nil:
		return sum(t.Prefixes, func(p string) (int, error) { return s.InvalidatePrefix(ctx, p) })
	case t.Patterns != nil:
		return sum(t.Patterns, func(p string) (int, error) { return s.InvalidatePattern(ctx, p) })
	default:
		return 0, s.Clear(ctx)
	}
}

func (rt *runtime) invalidateLocal(ctx context.Context, t agentapi.InvalidationTarget) (int, error) {
	if t.All {
		rt.bus.apply(cache.BusMessage{Kind: cache.BusClear})
		return 0, rt.localTags.Clear(ctx)
	}
	keys, err := selectKeys(ctx, t, rt.localLayers(), rt.localTags)
	if err != nil {
		return 0, err
	}
	if t.Tags != nil {
		// Entries copied into memory from a slower tier (backfill) are in
		// no index of this agent: find them by their own tags.
		more, err := scanTags(ctx, rt.memory.v, t.Tags)
		if err != nil {
			return 0, err
		}
		keys = dedupe(append(keys, more...))
	}
	for start := 0; start < len(keys); start += invalidateBatch {
		batch := keys[start:min(start+invalidateBatch, len(keys))]
		rt.bus.apply(cache.BusMessage{Kind: cache.BusDelete, Keys: batch})
	}
	if err := rt.localTags.Untrack(ctx, keys); err != nil {
		return len(keys), fmt.Errorf("agent: local tag index: %w", err)
	}
	return len(keys), nil
}

func (rt *runtime) invalidateShared(ctx context.Context, t agentapi.InvalidationTarget) (int, error) {
	if rt.remote == nil {
		return 0, nil
	}
	if t.All {
		return 0, errors.Join(rt.remote.Clear(ctx), rt.shared.Clear(ctx))
	}
	keys, err := selectKeys(ctx, t, []cache.Layer{rt.remote}, rt.shared)
	if err != nil {
		return 0, err
	}
	for start := 0; start < len(keys); start += invalidateBatch {
		batch := keys[start:min(start+invalidateBatch, len(keys))]
		if err := rt.remote.DeleteMany(ctx, batch); err != nil {
			return start, fmt.Errorf("agent: shared tier: %w", err)
		}
		if err := rt.shared.Untrack(ctx, batch); err != nil {
			return start + len(batch), fmt.Errorf("agent: shared tag index: %w", err)
		}
	}
	return len(keys), nil
}

// selectKeys returns the keys target selects in layers (prefixes,
// patterns), in idx (tags) or as given (keys), each once.
func selectKeys(ctx context.Context, t agentapi.InvalidationTarget, layers []cache.Layer, idx cache.TagIndex) ([]string, error) {
	seen := make(map[string]struct{})
	var keys []string
	add := func(k string) {
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			keys = append(keys, k)
		}
	}
	switch {
	case t.Keys != nil:
		for _, k := range t.Keys {
			if err := cache.ValidateKey(k); err != nil {
				return nil, err
			}
			add(k)
		}
	case t.Tags != nil:
		for _, tag := range t.Tags.Values {
			if err := cache.ValidateTag(tag); err != nil {
				return nil, err
			}
		}
		err := idx.Keys(ctx, t.Tags.Values, t.Tags.Match == agentapi.MatchAll, invalidateBatch, func(ks []string) error {
			for _, k := range ks {
				add(k)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("agent: tag index: %w", err)
		}
	default:
		matchers, err := keyMatchers(t)
		if err != nil {
			return nil, err
		}
		for _, l := range layers {
			for _, m := range matchers {
				err := l.Scan(ctx, m.prefix, func(k string) bool {
					if m.pattern == nil || m.pattern.Match(k) {
						add(k)
					}
					return true
				})
				if err != nil {
					return nil, fmt.Errorf("agent: scan layer %s: %w", l.Info().Name, err)
				}
			}
		}
	}
	return keys, nil
}

// scanTags returns the keys of l whose entries carry the tags of t.
func scanTags(ctx context.Context, l cache.Layer, t *agentapi.TagTarget) ([]string, error) {
	var all []string
	if err := l.Scan(ctx, "", func(k string) bool { all = append(all, k); return true }); err != nil {
		return nil, fmt.Errorf("agent: scan layer %s: %w", l.Info().Name, err)
	}
	var keys []string
	for start := 0; start < len(all); start += invalidateBatch {
		batch := all[start:min(start+invalidateBatch, len(all))]
		entries, found, err := l.GetMany(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("agent: read layer %s: %w", l.Info().Name, err)
		}
		for i := range entries {
			if found[i] && carries(entries[i].Tags, t.Values, t.Match == agentapi.MatchAll) {
				keys = append(keys, batch[i])
			}
		}
	}
	return keys, nil
}

// carries reports whether tags holds any (or, with all, every) of want.
func carries(tags, want []string, all bool) bool {
	for _, w := range want {
		has := slices.Contains(tags, w)
		if has && !all {
			return true
		}
		if !has && all {
			return false
		}
	}
	return all
}

// matcher selects the keys starting with prefix that match pattern (nil:
// every key with the prefix). A pattern's prefix is its literal start, so
// a scan by prefix finds every key it can match.
type matcher struct {
	prefix  string
	pattern *glob.Pattern
}

func keyMatchers(t agentapi.InvalidationTarget) ([]matcher, error) {
	var ms []matcher
	for _, p := range t.Prefixes {
		if err := cache.ValidateKey(p); err != nil {
			return nil, err
		}
		ms = append(ms, matcher{prefix: p})
	}
	for _, src := range t.Patterns {
		p, err := glob.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", cache.ErrInvalidKey, err)
		}
		ms = append(ms, matcher{prefix: p.Prefix(), pattern: p})
	}
	return ms, nil
}

func tagMatch(m agentapi.TagMatch) cache.TagMatch {
	if m == agentapi.MatchAll {
		return cache.MatchAll
	}
	return cache.MatchAny
}

func sum(items []string, fn func(string) (int, error)) (int, error) {
	total := 0
	for _, it := range items {
		n, err := fn(it)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func dedupe(keys []string) []string {
	seen := make(map[string]struct{}, len(keys))
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return out
}
