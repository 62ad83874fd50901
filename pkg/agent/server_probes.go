package agent

import (
	"fmt"
	"net/http"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// probeHandler serves /healthz, /readyz and /metrics, unauthenticated.
func (a *Agent) probeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+agentapi.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		writeData(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET "+agentapi.PathReadyz, a.readyz)
	mux.Handle("GET "+agentapi.PathMetrics, a.metrics.handler())
	mux.HandleFunc("/", notFound)
	return mux
}

func (a *Agent) readyz(w http.ResponseWriter, _ *http.Request) {
	switch {
	case a.current.Load() == nil:
		writeError(w, agentapi.CodeUnavailable, "no policy is being served")
	case a.warm.gateHeld.Load():
		writeError(w, agentapi.CodeUnavailable, "warming up (warming.readinessGate)")
	case a.synced.held.Load():
		writeError(w, agentapi.CodeUnavailable, fmt.Sprintf(
			"restored from a snapshot at invalidation #%d; waiting for the operator to confirm the invalidations since", a.inval.watermark()))
	default:
		writeData(w, http.StatusOK, "ready")
	}
}
