package agent

import (
	"errors"
	"net/http"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// adminHandler serves the admin API (package agentapi lists the paths).
// The TLS layer has already required and verified a client certificate;
// Options.AuthorizeAdmin may refuse it further.
func (a *Agent) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+agentapi.PathStatus, a.getStatus)
	mux.HandleFunc("PUT "+agentapi.PathPolicy, a.putPolicy)
	mux.HandleFunc("POST "+agentapi.PathInvalidation, a.postInvalidation)
	mux.HandleFunc("POST "+agentapi.PathSnapshot, a.postSnapshot)
	mux.HandleFunc("DELETE "+agentapi.PathSnapshot, a.deleteSnapshotFile)
	mux.HandleFunc("POST "+agentapi.PathSync, a.postSync)
	mux.HandleFunc("/", notFound)
	if a.opts.AuthorizeAdmin == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			writeError(w, agentapi.CodeUnauthorized, "a client certificate is required")
			return
		}
		if err := a.opts.AuthorizeAdmin(r.TLS.PeerCertificates[0]); err != nil {
			writeError(w, agentapi.CodeForbidden, "client certificate refused: "+err.Error())
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (a *Agent) getStatus(w http.ResponseWriter, _ *http.Request) {
	writeData(w, http.StatusOK, a.Status())
}

func (a *Agent) putPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := agentapi.Decode[agentapi.Policy](r.Body, agentapi.MaxPolicyBytes)
	if err != nil {
		if errors.Is(err, agentapi.ErrBodyTooLarge) {
			writeDecodeError(w, err)
			return
		}
		// A document that does not decode is an invalid policy: the
		// applied one is kept, and the refusal shows in Status.
		e := a.reject(agentapi.Policy{}, agentapi.CodeInvalidPolicy, "the policy does not decode; the applied policy is kept", err.Error())
		writeError(w, e.Code, e.Message, e.Details...)
		return
	}
	res, aerr := a.applyPolicy(r.Context(), p)
	if aerr != nil {
		writeError(w, aerr.Code, aerr.Message, aerr.Details...)
		return
	}
	writeData(w, http.StatusOK, res)
}

func (a *Agent) postInvalidation(w http.ResponseWriter, r *http.Request) {
	req, err := agentapi.Decode[agentapi.InvalidationRequest](r.Body, agentapi.MaxRequestBytes)
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	res, err := a.applyInvalidation(r.Context(), r.PathValue("uid"), req)
	if err != nil {
		writeCacheError(w, err)
		return
	}
	writeData(w, http.StatusOK, res)
}

func (a *Agent) postSnapshot(w http.ResponseWriter, r *http.Request) {
	req, err := agentapi.Decode[agentapi.SnapshotRequest](r.Body, agentapi.MaxRequestBytes)
	if err != nil && !errors.Is(err, agentapi.ErrEmptyBody) {
		writeDecodeError(w, err)
		return
	}
	res, err := a.takeSnapshot(r.Context(), r.PathValue("uid"), req)
	if err != nil {
		writeCacheError(w, err)
		return
	}
	writeData(w, http.StatusOK, res)
}

// deleteSnapshotFile removes a snapshot's file. It reads no body; a
// missing file is success (SnapshotDeleteResult.Removed false).
func (a *Agent) deleteSnapshotFile(w http.ResponseWriter, r *http.Request) {
	res, err := a.deleteSnapshot(r.PathValue("uid"))
	if err != nil {
		writeCacheError(w, err)
		return
	}
	writeData(w, http.StatusOK, res)
}

// postSync opens the readiness gate held since a restore from a snapshot
// when the watermark has reached the operator's last sequence; below it,
// or when it counts another policy's sequences than the request's, the
// gate stays held and the answer says so. The watermark is contiguous, so
// reaching it means no invalidation up to it is missing.
func (a *Agent) postSync(w http.ResponseWriter, r *http.Request) {
	req, err := agentapi.Decode[agentapi.SyncRequest](r.Body, agentapi.MaxRequestBytes)
	if err != nil {
		writeDecodeError(w, err)
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, agentapi.CodeInvalidRequest, err.Error())
		return
	}
	uid, wm := a.inval.position()
	switch {
	case req.PolicyUID != "" && req.PolicyUID != uid:
		a.log.Info("sync refused: the watermark counts another policy's invalidations",
			"policyUID", req.PolicyUID, "watermarkPolicyUID", uid)
	case wm >= req.LastSequence && a.synced.open():
		a.log.Info("the operator confirmed the invalidations since the warming snapshot; ready", "watermark", wm)
	}
	writeData(w, http.StatusOK, agentapi.SyncResult{Watermark: wm, AwaitingSync: a.synced.held.Load()})
}
