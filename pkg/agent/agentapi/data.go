package agentapi

import (
	"encoding/json"
	"fmt"
)

// BulkGetRequest is the body of POST PathKeys.
type BulkGetRequest struct {
	// keys to read, at most MaxBulkKeys. Keys that miss are loaded through
	// their origins, as GET PathKey does.
	Keys []string `json:"keys"`
}

// BulkGetResult answers POST PathKeys.
type BulkGetResult struct {
	// values maps each key found to its JSON value.
	Values map[string]json.RawMessage `json:"values"`
	// missing lists the keys not found (not cached and no origin, or the
	// origin said not found), in request order.
	Missing []string `json:"missing,omitempty"`
	// failed maps each key whose origin failed to the reason.
	Failed map[string]string `json:"failed,omitempty"`
}

// BulkSetRequest is the body of PUT PathKeys.
type BulkSetRequest struct {
	// items to write, at most MaxBulkKeys.
	Items []BulkItem `json:"items"`
	// ttl overrides freshness.ttl for these entries; 0 means the policy's.
	TTL Duration `json:"ttl,omitempty"`
	// tags are attached to every item.
	Tags []string `json:"tags,omitempty"`
}

// BulkItem is one entry of a bulk write.
type BulkItem struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// BulkSetResult answers PUT PathKeys.
type BulkSetResult struct {
	Stored int `json:"stored"`
}

// TagInvalidateRequest is the body of POST PathTagsInvalidate.
type TagInvalidateRequest struct {
	Tags []string `json:"tags"`
	// match is "any" (the default when empty) or "all".
	Match TagMatch `json:"match,omitempty"`
}

// InvalidateResult answers the data API's invalidation endpoints.
type InvalidateResult struct {
	KeysRemoved int `json:"keysRemoved"`
}

// Validate checks the key count and the key rules.
func (r *BulkGetRequest) Validate() error {
	f := &fieldErrors{what: "bulk get"}
	bulkCount(f, "keys", len(r.Keys))
	if len(r.Keys) <= MaxBulkKeys {
		checkAll(f, "keys", r.Keys)
	}
	return f.err()
}

// Validate checks the item count, the keys, the values (valid JSON), the
// TTL and the tags.
func (r *BulkSetRequest) Validate() error {
	f := &fieldErrors{what: "bulk set"}
	bulkCount(f, "items", len(r.Items))
	if len(r.Items) <= MaxBulkKeys {
		for i, it := range r.Items {
			f.check(fmt.Sprintf("items[%d].key", i), checkName(it.Key))
			if len(it.Value) == 0 || !json.Valid(it.Value) {
				f.add(fmt.Sprintf("items[%d].value", i), "must be a JSON value")
			}
		}
	}
	f.nonNegative("ttl", r.TTL)
	validateTags(f, "tags", r.Tags)
	return f.err()
}

// Validate checks the tags and the match.
func (r *TagInvalidateRequest) Validate() error {
	t := InvalidationTarget{Tags: &TagTarget{Values: r.Tags, Match: r.Match}}
	return t.Validate()
}

func bulkCount(f *fieldErrors, field string, n int) {
	switch {
	case n == 0:
		f.add(field, "must not be empty")
	case n > MaxBulkKeys:
		f.add(field, "has %d entries, at most %d are allowed", n, MaxBulkKeys)
	}
}
