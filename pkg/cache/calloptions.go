package cache

import (
	"fmt"
	"strings"
	"time"
)

// Option adjusts one call (Get, Set, GetMany, ...). Options are plain values,
// so passing them costs no allocation.
type Option struct {
	kind  optionKind
	d     time.Duration
	layer string // layer name for LayerTTL, policy name for WithTTLPolicy
	tags  []string
}

type optionKind uint8

const (
	optTTL optionKind = iota + 1
	optLayerTTL
	optTags
	optSWR
	optSIE
	optNegativeTTL
	optJitter
	optPolicy
	optSliding
	optRefreshAhead
	optGroup
)

// TTL sets how long the written entry stays fresh (0: never goes stale).
func TTL(d time.Duration) Option { return Option{kind: optTTL, d: d} }

// LayerTTL sets the TTL for one layer, by name, for this call.
func LayerTTL(layer string, d time.Duration) Option {
	return Option{kind: optLayerTTL, layer: layer, d: d}
}

// Tags attaches tags to the written entry, replacing the tags it had. The
// slice is copied if it is kept.
func Tags(tags ...string) Option { return Option{kind: optTags, tags: tags} }

// StaleWhileRevalidate sets the stale-while-revalidate window for this call.
func StaleWhileRevalidate(d time.Duration) Option { return Option{kind: optSWR, d: d} }

// StaleIfError sets the stale-if-error window for this call.
func StaleIfError(d time.Duration) Option { return Option{kind: optSIE, d: d} }

// NegativeTTL sets how long a fetcher's ErrNotFound is cached for this call
// (0 disables negative caching for the call).
func NegativeTTL(d time.Duration) Option { return Option{kind: optNegativeTTL, d: d} }

// TTLJitter sets the jitter for this call (see Options.TTLJitter).
func TTLJitter(d time.Duration) Option { return Option{kind: optJitter, d: d} }

// WithTTLPolicy selects, by name, one of the Stack's Options.TTLPolicies
// for this call. Policies are registered on the Stack rather than passed
// here so that a call's options never carry pointers, which keeps calls with
// options allocation-free.
func WithTTLPolicy(name string) Option { return Option{kind: optPolicy, layer: name} }

// SlidingTTL turns sliding expiry on or off for this call (see
// Options.SlidingTTL).
func SlidingTTL(on bool) Option {
	var d time.Duration
	if on {
		d = 1
	}
	return Option{kind: optSliding, d: d}
}

// RefreshAhead sets the refresh-ahead window for this call (see
// Options.RefreshAhead).
func RefreshAhead(d time.Duration) Option { return Option{kind: optRefreshAhead, d: d} }

// callOptions is the resolved form of a call's options.
type callOptions struct {
	ttl, swr, sie, negTTL             time.Duration
	hasTTL, hasSWR, hasSIE, hasNegTTL bool
	jitter, refreshAhead              time.Duration
	hasJitter, hasRefreshAhead        bool
	sliding, hasSliding               bool
	policy                            string // a key of Options.TTLPolicies
	group                             string // FetchGroup
	tags                              []string
	// layerTTL holds the call's options when any is a LayerTTL (rare);
	// ttlFor scans it.
	layerTTL []Option
}

// resolve applies opts over the stack defaults and validates them.
func resolve(opts []Option) (callOptions, error) {
	var co callOptions
	for i := range opts {
		o := &opts[i]
		if o.kind != optTags {
			if err := checkDuration(o.d); err != nil {
				return co, fmt.Errorf("cache: option %s %w", o.kind, err)
			}
		}
		switch o.kind {
		case optTTL:
			co.ttl, co.hasTTL = o.d, true
		case optSWR:
			co.swr, co.hasSWR = o.d, true
		case optSIE:
			co.sie, co.hasSIE = o.d, true
		case optNegativeTTL:
			co.negTTL, co.hasNegTTL = o.d, true
		case optJitter:
			co.jitter, co.hasJitter = o.d, true
		case optRefreshAhead:
			co.refreshAhead, co.hasRefreshAhead = o.d, true
		case optSliding:
			co.sliding, co.hasSliding = o.d != 0, true
		case optPolicy:
			if o.layer == "" {
				return co, fmt.Errorf("cache: WithTTLPolicy needs a policy name")
			}
			co.policy = o.layer
		case optGroup:
			if err := validateName("fetch group", o.layer); err != nil {
				return co, err
			}
			co.group = o.layer
		case optTags:
			if err := validateTags(o.tags); err != nil {
				return co, err
			}
			co.tags = o.tags
		case optLayerTTL:
			co.layerTTL = opts
		default:
			return co, fmt.Errorf("cache: zero Option: build options with cache.TTL, cache.Tags and the other constructors")
		}
	}
	return co, nil
}

func (k optionKind) String() string {
	switch k {
	case optTTL:
		return "TTL"
	case optLayerTTL:
		return "LayerTTL"
	case optSWR:
		return "StaleWhileRevalidate"
	case optSIE:
		return "StaleIfError"
	case optNegativeTTL:
		return "NegativeTTL"
	case optJitter:
		return "TTLJitter"
	case optRefreshAhead:
		return "RefreshAhead"
	default:
		return "Tags"
	}
}

// resolve is resolve plus the checks that need the Stack's configuration.
func (c *core) resolve(opts []Option) (callOptions, error) {
	co, err := resolve(opts)
	if err == nil && co.policy != "" {
		if _, ok := c.opts.TTLPolicies[co.policy]; !ok {
			err = fmt.Errorf("cache: WithTTLPolicy(%q): no such policy in Options.TTLPolicies", strings.Clone(co.policy))
		}
	}
	return co, err
}
