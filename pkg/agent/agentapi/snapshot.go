package agentapi

import "time"

// SnapshotRequest is the body of POST PathSnapshot. The body may be empty
// (all defaults).
type SnapshotRequest struct {
	// uid is the CacheSnapshot's uid. Optional in the body; when set it
	// must equal the uid in the path.
	UID string `json:"uid,omitempty"`
	// layers is "local" (the default: memory and disk, this pod's view)
	// or "all" (every tier, Redis included, each key once from the
	// fastest tier holding it).
	Layers LayerScope `json:"layers,omitempty"`
}

// Validate checks the uid (if set) and the layer scope.
func (r *SnapshotRequest) Validate() error {
	f := &fieldErrors{what: "snapshot"}
	if r.UID != "" {
		f.check("uid", ValidateUID(r.UID))
	}
	switch r.Layers {
	case "", LayersLocal, LayersAll:
	default:
		f.add("layers", "must be local or all, got %q", r.Layers)
	}
	return f.err()
}

// SnapshotResult answers POST PathSnapshot.
type SnapshotResult struct {
	UID string `json:"uid"`
	// path is the file written: <snapshots.dir>/<uid>.lcs.
	Path     string `json:"path"`
	Entries  int    `json:"entries"`
	Bytes    int64  `json:"bytes"`
	Checksum string `json:"checksum"`
	// watermark is Status.LastInvalidationSeq when the snapshot was
	// taken: the snapshot includes every invalidation up to it (none is
	// missing below it), so a restore must replay only newer ones.
	Watermark int64     `json:"watermark"`
	Created   time.Time `json:"created"`
	// alreadyApplied is true when this uid had been written before by
	// this process: the recorded result is returned and nothing is
	// written again.
	AlreadyApplied bool `json:"alreadyApplied,omitempty"`
}

// SnapshotDeleteResult answers DELETE PathSnapshot. Deleting is
// idempotent: when there is no file for the uid (never written, or
// removed before) the answer is 200 too, with Removed false.
type SnapshotDeleteResult struct {
	// uid is the snapshot's uid.
	UID string `json:"uid"`
	// path is the file removed, or looked for:
	// <snapshots.dir>/<uid>.lcs, under the applied policy's directory.
	Path string `json:"path"`
	// removed is true when the file existed and was removed, false when
	// there was none.
	Removed bool `json:"removed"`
}
