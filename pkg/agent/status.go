package agent

import (
	"slices"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/breaker"
)

// Status returns what GET /v1/status reports.
func (a *Agent) Status() agentapi.Status {
	st := agentapi.Status{
		SessionID:    a.session,
		AgentVersion: a.opts.Version,
		Rejected:     a.rejected.Load(),
		Ready:        a.Ready(),
		AwaitingSync: a.synced.held.Load(),
		Warming:      a.warm.snapshot(),
		Layers:       []agentapi.LayerStatus{},
	}
	st.PolicyUID, st.LastInvalidationSeq = a.inval.position()
	rt, leave := a.acquire()
	defer leave()
	if rt == nil {
		return st
	}
	st.PolicyName, st.PolicyHash = rt.policy.Name, rt.policy.Hash
	st.PolicyGeneration, st.PolicyAppliedAt = rt.generation.Load(), rt.appliedAt.UTC()
	stats := rt.stack.Stats()
	st.Stats = convertStats(stats)
	degraded := rt.stack.DegradedLayers()
	for _, ls := range stats.Layers {
		role := rt.names[ls.Name]
		l := agentapi.LayerStatus{Name: ls.Name, Shared: role.shared, Hits: ls.Hits, Misses: ls.Misses,
			Errors: ls.Errors, Degraded: slices.Contains(degraded, ls.Name)}
		if role.breaker && rt.brk != nil {
			l.Breaker = rt.brk.State(rt.brkKey).String()
		}
		st.Layers = append(st.Layers, l)
	}
	if rt.brk != nil {
		st.Breakers = breakerStatus(rt.brk.Stats())
	}
	return st
}

func breakerStatus(s breaker.Stats) agentapi.BreakerStatus {
	return agentapi.BreakerStatus{Open: s.Open, HalfOpen: s.HalfOpen, Closed: s.Closed,
		Trips: s.Trips, Rejections: s.Rejections}
}

func convertStats(s cache.Stats) agentapi.Stats {
	return agentapi.Stats{
		Hits: s.Hits, Misses: s.Misses, StaleHits: s.StaleHits, NegativeHits: s.NegativeHits,
		Fetches: s.Fetches, FetchErrors: s.FetchErrors, Dedupes: s.Dedupes, Refreshes: s.Refreshes,
		RefreshErrors: s.RefreshErrors, Sets: s.Sets, Deletes: s.Deletes, Backfills: s.Backfills,
		WriteFailures: s.WriteFailures, FencedWrites: s.FencedWrites, Corrupt: s.Corrupt,
		LayerErrors: s.LayerErrors, Invalidations: s.Invalidations, Expirations: s.Expirations,
		TagErrors: s.TagErrors, Degradations: s.Degradations, BreakerOpen: s.BreakerOpen,
		RateLimited: s.RateLimited, BusPublished: s.BusPublished, BusReceived: s.BusReceived,
		BusErrors: s.BusErrors, BusReconnects: s.BusReconnects, RemoteResults: s.RemoteResults,
		CoordinatorErrors: s.CoordinatorErrors,
	}
}
