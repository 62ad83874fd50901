package agentapi

import "fmt"

// LayerScope says which tiers an invalidation touches.
type LayerScope string

// Layer scopes.
const (
	// LayersLocal: only this agent's own tiers (memory, disk). The
	// operator sends it to every pod.
	LayersLocal LayerScope = "local"
	// LayersShared: only the shared tier (Redis). The operator sends it
	// to one pod per invalidation.
	LayersShared LayerScope = "shared"
	// LayersAll: every tier of this agent, and other agents on the bus
	// drop their local copies.
	LayersAll LayerScope = "all"
)

// TagMatch says how several tags combine.
type TagMatch string

// Tag matches.
const (
	// MatchAny selects entries carrying at least one of the tags (the
	// default).
	MatchAny TagMatch = "any"
	// MatchAll selects entries carrying every one of the tags.
	MatchAll TagMatch = "all"
)

// InvalidationTarget selects entries. Exactly one field must be set.
type InvalidationTarget struct {
	// tags selects entries by their tags.
	Tags *TagTarget `json:"tags,omitempty"`
	// keys lists exact keys.
	Keys []string `json:"keys,omitempty"`
	// prefixes selects keys starting with any of them.
	Prefixes []string `json:"prefixes,omitempty"`
	// patterns selects keys matching any of them (`*`, `?`, `\`).
	Patterns []string `json:"patterns,omitempty"`
	// all selects every entry. For the shared tier, "every entry" means
	// every key under layers.redis.prefix.
	All bool `json:"all,omitempty"`
}

// TagTarget selects entries by tag.
type TagTarget struct {
	Values []string `json:"values"`
	// match is "any" (the default when empty) or "all".
	Match TagMatch `json:"match,omitempty"`
}

// InvalidationRequest is the body of POST PathInvalidation.
type InvalidationRequest struct {
	// uid is the CacheInvalidation's uid. Optional in the body; when set
	// it must equal the uid in the path.
	UID string `json:"uid,omitempty"`
	// seq is the invalidation's sequence number within its policy
	// (monotonic, from 1). The agent reports the highest applied to its
	// local tiers as Status.LastInvalidationSeq. 0 means unsequenced.
	Seq int64 `json:"seq,omitempty"`
	// policyUID is the uid of the CachePolicy whose sequence seq is. The
	// agent applies the invalidation whatever it is, but counts seq towards
	// its watermark only when it is the applied policy's uid
	// (Status.PolicyUID): sequences of a deleted and re-created policy start
	// again at 1, and must not count in the other's. Empty counts seq
	// towards whatever policy is applied.
	PolicyUID string `json:"policyUID,omitempty"`
	// target selects the entries.
	Target InvalidationTarget `json:"target"`
	// layers is "local", "shared" or "all". Required.
	Layers LayerScope `json:"layers"`
}

// InvalidationResult answers POST PathInvalidation.
type InvalidationResult struct {
	UID    string     `json:"uid"`
	Seq    int64      `json:"seq"`
	Layers LayerScope `json:"layers"`
	// keysRemoved counts the distinct keys the invalidation selected: the
	// keys given (found or not) for a keys target, the keys found for tags,
	// prefixes and patterns; 0 for all, which is not counted.
	KeysRemoved int `json:"keysRemoved"`
	// duration is how long the invalidation took when it was applied.
	Duration Duration `json:"duration"`
	// alreadyApplied is true when the uid had been applied before: the
	// result is the one recorded then and nothing was done again.
	AlreadyApplied bool `json:"alreadyApplied,omitempty"`
}

// Validate checks the request: a valid uid and policyUID (when set), seq
// not negative, exactly one target, a known layer scope.
func (r *InvalidationRequest) Validate() error {
	f := &fieldErrors{what: "invalidation"}
	if r.UID != "" {
		f.check("uid", ValidateUID(r.UID))
	}
	if r.Seq < 0 {
		f.add("seq", "must not be negative, got %d", r.Seq)
	}
	if r.PolicyUID != "" {
		f.check("policyUID", ValidateUID(r.PolicyUID))
	}
	switch r.Layers {
	case LayersLocal, LayersShared, LayersAll:
	case "":
		f.add("layers", "is required: local, shared or all")
	default:
		f.add("layers", "must be local, shared or all, got %q", r.Layers)
	}
	r.Target.validate(f, "target")
	return f.err()
}

// Validate checks that exactly one target is set and that its values
// follow the key rules and the size limits.
func (t *InvalidationTarget) Validate() error {
	f := &fieldErrors{what: "invalidation target"}
	t.validate(f, "")
	return f.err()
}

func (t *InvalidationTarget) validate(f *fieldErrors, field string) {
	join := func(name string) string {
		if field == "" {
			return name
		}
		return field + "." + name
	}
	set := 0
	if t.Tags != nil {
		set++
		if len(t.Tags.Values) == 0 {
			f.add(join("tags.values"), "must not be empty")
		}
		if len(t.Tags.Values) > MaxTags {
			f.add(join("tags.values"), "has %d entries, at most %d are allowed", len(t.Tags.Values), MaxTags)
		} else {
			checkAll(f, join("tags.values"), t.Tags.Values)
		}
		switch t.Tags.Match {
		case "", MatchAny, MatchAll:
		default:
			f.add(join("tags.match"), "must be any or all, got %q", t.Tags.Match)
		}
	}
	for _, l := range []struct {
		name   string
		values []string
	}{{"keys", t.Keys}, {"prefixes", t.Prefixes}, {"patterns", t.Patterns}} {
		if l.values == nil {
			continue
		}
		set++
		switch {
		case len(l.values) == 0:
			f.add(join(l.name), "must not be empty")
		case len(l.values) > MaxTargetItems:
			f.add(join(l.name), "has %d entries, at most %d are allowed", len(l.values), MaxTargetItems)
		default:
			checkAll(f, join(l.name), l.values)
		}
	}
	if t.All {
		set++
	}
	if set != 1 {
		f.add(field, "must set exactly one of tags, keys, prefixes, patterns or all; %d are set", set)
	}
}

func checkAll(f *fieldErrors, field string, values []string) {
	for i, v := range values {
		f.check(fmt.Sprintf("%s[%d]", field, i), checkName(v))
	}
}
