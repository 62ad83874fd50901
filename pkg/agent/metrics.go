package agent

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache/promcache"
)

// metricsCache is the value of the "cache" label of the engine's metrics.
// It stays the same across policies, so series continue (the counters
// restart from zero when a policy change rebuilds the Stack, which
// Prometheus treats as a counter reset).
const metricsCache = "agent"

// metrics is the agent's Prometheus registry: the engine's counters
// (pkg/cache/promcache) for the current Stack, and the agent's own gauges.
type metrics struct {
	reg       *prometheus.Registry
	collector *promcache.Collector
	mu        sync.Mutex // serialises use
}

func newMetrics(a *Agent) (*metrics, error) {
	m := &metrics{reg: prometheus.NewRegistry(), collector: promcache.New(promcache.Options{})}
	gauge := func(name, help string, value func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "layercache", Subsystem: "agent",
			Name: name, Help: help}, value)
	}
	warming := func(get func(w agentapi.WarmingStatus) int) func() float64 {
		return func() float64 { return float64(get(a.warm.snapshot())) }
	}
	collectors := []prometheus.Collector{
		m.collector,
		gauge("ready", "1 when /readyz answers 200.", func() float64 { return boolValue(a.Ready()) }),
		gauge("policy_generation", "Generation of the applied policy.", func() float64 {
			if rt := a.current.Load(); rt != nil {
				return float64(rt.generation.Load())
			}
			return 0
		}),
		gauge("last_invalidation_seq", "Invalidation watermark: every sequence up to it was applied to the local tiers.",
			func() float64 { return float64(a.inval.watermark()) }),
		gauge("policy_rejected", "1 when the last policy pushed was rejected.",
			func() float64 { return boolValue(a.rejected.Load() != nil) }),
		gauge("warming_keys", "Keys in the latest warm-up.", warming(func(w agentapi.WarmingStatus) int { return w.Total })),
		gauge("warming_done_keys", "Keys of the latest warm-up done (failed included).",
			warming(func(w agentapi.WarmingStatus) int { return w.Done })),
		gauge("warming_failed_keys", "Keys of the latest warm-up that failed.",
			warming(func(w agentapi.WarmingStatus) int { return w.Failed })),
		gauge("breakers_open", "Circuit breakers open (half-open excluded).", func() float64 {
			if rt := a.current.Load(); rt != nil && rt.brk != nil {
				return float64(rt.brk.Stats().Open)
			}
			return 0
		}),
	}
	collectors = append(collectors, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "layercache",
		Subsystem: "agent", Name: "shared_tag_index_errors_total",
		Help: "Failed best-effort updates of the shared (Redis) tag index."},
		func() float64 { return float64(a.sharedTagErrors.Load()) }))
	for _, c := range collectors {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("agent: metrics: %w", err)
		}
	}
	return m, nil
}

// use exports rt's Stack instead of the previous one (nothing when rt is
// nil).
func (m *metrics) use(rt *runtime) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.collector.Remove(metricsCache)
	if rt != nil {
		// Add fails only for a duplicate name or a nil Stack, neither
		// possible here.
		_ = m.collector.Add(metricsCache, rt.stack)
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
