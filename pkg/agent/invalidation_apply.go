package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// applyInvalidation applies the operator's invalidation uid once: a uid
// already applied (among the last DefaultRememberedInvalidations) returns
// its recorded result with AlreadyApplied, and nothing is done again; its
// sequence still counts towards the watermark, which a sequence forgotten
// above a gap may need (see appliedSeqs). A failed invalidation is not
// recorded, so the operator's retry runs it again. Invalidations (and
// snapshots) run one at a time.
func (a *Agent) applyInvalidation(ctx context.Context, uid string, req agentapi.InvalidationRequest) (agentapi.InvalidationResult, error) {
	if err := agentapi.ValidateUID(uid); err != nil {
		return agentapi.InvalidationResult{}, &agentapi.ValidationError{What: "invalidation",
			Errors: []agentapi.FieldError{{Field: "uid", Message: err.Error()}}}
	}
	if req.UID != "" && req.UID != uid {
		return agentapi.InvalidationResult{}, &agentapi.ValidationError{What: "invalidation",
			Errors: []agentapi.FieldError{{Field: "uid", Message: fmt.Sprintf("is %q but the path says %q", req.UID, uid)}}}
	}
	if err := req.Validate(); err != nil {
		return agentapi.InvalidationResult{}, err
	}
	a.opsMu.Lock()
	defer a.opsMu.Unlock()
	if res, ok, err := a.inval.repeat(uid); ok {
		if err != nil {
			a.log.Warn("cannot record the invalidation watermark with the disk tier", "error", err)
		}
		res.AlreadyApplied = true
		return res, nil
	}
	rt, leave := a.acquire()
	defer leave()
	if rt == nil {
		return agentapi.InvalidationResult{}, ErrNotRunning
	}
	start := time.Now()
	n, err := rt.invalidate(ctx, req.Layers, req.Target)
	if err != nil {
		return agentapi.InvalidationResult{}, err
	}
	res := agentapi.InvalidationResult{UID: uid, Seq: req.Seq, Layers: req.Layers, KeysRemoved: n,
		Duration: agentapi.Duration(time.Since(start))}
	if err := a.inval.record(res, req.Target.All, req.PolicyUID); err != nil {
		a.log.Warn("cannot record the invalidation watermark with the disk tier", "error", err)
	}
	// The watermark stays below req.Seq while an earlier sequence is
	// missing here: the operator retries or replays it.
	a.log.Info("invalidation applied", "uid", uid, "seq", req.Seq, "layers", req.Layers, "keysRemoved", n,
		"watermark", a.inval.watermark())
	return res, nil
}
