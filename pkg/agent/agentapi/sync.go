package agentapi

import "fmt"

// SyncRequest is the body of POST PathSync: the operator's word that the
// agent must have every invalidation up to LastSequence, and no other.
type SyncRequest struct {
	// lastSequence is the policy's last invalidation sequence number
	// (CachePolicy status.invalidation.lastSequence).
	LastSequence int64 `json:"lastSequence"`
	// policyUID is the uid of the CachePolicy whose sequence lastSequence
	// is. When set, the agent opens its readiness gate only if its
	// watermark counts that policy's sequences (Status.PolicyUID): a
	// watermark of another policy says nothing about this one's
	// invalidations.
	PolicyUID string `json:"policyUID,omitempty"`
}

// Validate checks that the sequence is not negative and the policy uid,
// when set, is valid.
func (r *SyncRequest) Validate() error {
	if r.LastSequence < 0 {
		return fmt.Errorf("sync: lastSequence must not be negative, got %d", r.LastSequence)
	}
	if r.PolicyUID != "" {
		if err := ValidateUID(r.PolicyUID); err != nil {
			return fmt.Errorf("sync: policyUID: %w", err)
		}
	}
	return nil
}

// SyncResult answers POST PathSync.
type SyncResult struct {
	// watermark is Status.LastInvalidationSeq when the request was served.
	Watermark int64 `json:"watermark"`
	// awaitingSync is Status.AwaitingSync after the request: still true
	// when the watermark is below the request's lastSequence (the operator
	// replays what is missing, then confirms again).
	AwaitingSync bool `json:"awaitingSync"`
}
