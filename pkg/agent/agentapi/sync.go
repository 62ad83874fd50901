package agentapi

import "fmt"

// SyncRequest is the body of POST PathSync: the operator's word that the
// agent must have every invalidation up to LastSequence, and no other.
type SyncRequest struct {
	// lastSequence is the policy's last invalidation sequence number
	// (CachePolicy status.invalidation.lastSequence).
	LastSequence int64 `json:"lastSequence"`
}

// Validate checks that the sequence is not negative.
func (r *SyncRequest) Validate() error {
	if r.LastSequence < 0 {
		return fmt.Errorf("sync: lastSequence must not be negative, got %d", r.LastSequence)
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
