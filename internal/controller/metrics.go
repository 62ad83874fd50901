package controller

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// invalidationMetrics are the operator's metrics about CacheInvalidations.
// A nil *invalidationMetrics records nothing.
type invalidationMetrics struct {
	// duration observes how long finished runs took, by outcome
	// ("complete" or "failed").
	duration *prometheus.HistogramVec
	// finishedTotal counts finished runs by outcome and condition reason.
	finishedTotal *prometheus.CounterVec
	// podErrors counts failed calls to agents (each retry counts).
	podErrors prometheus.Counter
}

// newInvalidationMetrics registers the metrics with reg. Registering twice
// (several managers in one process, as in tests) shares the collectors
// registered first instead of failing, so no package-level state is
// needed to register once.
func newInvalidationMetrics(reg prometheus.Registerer) (*invalidationMetrics, error) {
	m := &invalidationMetrics{}
	var err error
	if m.duration, err = registerCollector(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "layercache", Subsystem: "operator", Name: "invalidation_duration_seconds",
		Help:    "How long finished CacheInvalidations ran, from start to completion, to the second.",
		Buckets: []float64{1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
	}, []string{"outcome"})); err != nil {
		return nil, err
	}
	if m.finishedTotal, err = registerCollector(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "layercache", Subsystem: "operator", Name: "invalidations_finished_total",
		Help: "Finished CacheInvalidations, by outcome (complete, failed) and reason.",
	}, []string{"outcome", "reason"})); err != nil {
		return nil, err
	}
	if m.podErrors, err = registerCollector(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "layercache", Subsystem: "operator", Name: "invalidation_agent_errors_total",
		Help: "Failed invalidation calls to agents, retries included.",
	})); err != nil {
		return nil, err
	}
	return m, nil
}

// registerCollector registers c, or returns the equal collector registered before.
func registerCollector[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("controller: register metrics: %w", err)
}

// finished records a run that ended with the condition typ (Complete or
// Failed) and reason.
func (m *invalidationMetrics) finished(typ, reason string, took time.Duration) {
	if m == nil {
		return
	}
	outcome := strings.ToLower(typ)
	m.duration.WithLabelValues(outcome).Observe(took.Seconds())
	m.finishedTotal.WithLabelValues(outcome, reason).Inc()
}

// podError records one failed call to an agent.
func (m *invalidationMetrics) podError() {
	if m != nil {
		m.podErrors.Inc()
	}
}
