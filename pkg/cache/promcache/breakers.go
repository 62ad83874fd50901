package promcache

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layercache/layercache/pkg/cache/breaker"
)

// BreakerCollector exports the state of circuit breakers (pkg/cache/breaker)
// given to a Stack as Options.Breaker: trips, refusals and how many breakers
// are closed, open and half-open. It complements Collector, whose
// breaker_open counter only counts the fetches a Stack saw refused. Create it
// with NewBreakerCollector and register it next to the Collector.
type BreakerCollector struct {
	trips, rejections, evictions, state *prometheus.Desc

	mu   sync.Mutex // protects sets
	sets []namedBreakers
}

type namedBreakers struct {
	name string
	set  *breaker.Set
}

var _ prometheus.Collector = (*BreakerCollector)(nil)

// NewBreakerCollector returns a collector with no breaker sets, using the
// same Options (namespace and constant labels) as New.
func NewBreakerCollector(opts Options) *BreakerCollector {
	ns := opts.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	var labels prometheus.Labels
	if len(opts.ConstLabels) > 0 {
		labels = prometheus.Labels{}
		for k, v := range opts.ConstLabels {
			labels[k] = v
		}
	}
	desc := func(name, help string, variable ...string) *prometheus.Desc {
		if !validNamespace(ns) {
			return prometheus.NewInvalidDesc(fmt.Errorf("promcache: Options.Namespace %q must match [a-zA-Z_][a-zA-Z0-9_]*", ns))
		}
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "breaker", name), help, append([]string{"cache"}, variable...), labels)
	}
	return &BreakerCollector{
		trips:      desc("trips_total", "Times a circuit breaker opened (a trip condition was met, or a half-open probe failed)."),
		rejections: desc("rejections_total", "Calls refused by an open or probing circuit breaker."),
		evictions:  desc("evictions_total", "Idle circuit breakers dropped to stay within MaxBreakers."),
		state:      desc("breakers", "Circuit breakers by state.", "state"),
	}
}

// Add exports set under the label cache=name. It returns an error, and
// changes nothing, when name is empty or taken or set is nil.
func (b *BreakerCollector) Add(name string, set *breaker.Set) error {
	if name == "" || set == nil {
		return errors.New("promcache: BreakerCollector.Add needs a name and a breaker set")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if slices.ContainsFunc(b.sets, func(n namedBreakers) bool { return n.name == name }) {
		return fmt.Errorf("promcache: BreakerCollector.Add %q: a set was already added under this name", name)
	}
	b.sets = append(b.sets, namedBreakers{name: name, set: set})
	return nil
}

// Describe implements prometheus.Collector.
func (b *BreakerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{b.trips, b.rejections, b.evictions, b.state} {
		ch <- d
	}
}

// Collect reads every set once and sends its metrics, family by family.
func (b *BreakerCollector) Collect(ch chan<- prometheus.Metric) {
	b.mu.Lock()
	sets := slices.Clone(b.sets)
	b.mu.Unlock()
	stats := make([]breaker.Stats, len(sets))
	for i, s := range sets {
		stats[i] = s.set.Stats()
	}
	for i, s := range sets {
		ch <- constMetric(b.trips, prometheus.CounterValue, float64(stats[i].Trips), s.name)
	}
	for i, s := range sets {
		ch <- constMetric(b.rejections, prometheus.CounterValue, float64(stats[i].Rejections), s.name)
	}
	for i, s := range sets {
		ch <- constMetric(b.evictions, prometheus.CounterValue, float64(stats[i].Evictions), s.name)
	}
	for i, s := range sets {
		ch <- constMetric(b.state, prometheus.GaugeValue, float64(stats[i].Closed), s.name, "closed")
		ch <- constMetric(b.state, prometheus.GaugeValue, float64(stats[i].Open), s.name, "open")
		ch <- constMetric(b.state, prometheus.GaugeValue, float64(stats[i].HalfOpen), s.name, "half-open")
	}
}
