package promcache

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layerstats"
)

// DefaultNamespace is the metric name prefix used when Options.Namespace is
// empty.
const DefaultNamespace = "layercache"

// Options configures a Collector. The zero Options is valid.
type Options struct {
	// Namespace is the first part of every metric name, before an
	// underscore. It must match [a-zA-Z_][a-zA-Z0-9_]*; any other value
	// makes registering the Collector fail with an error naming this field.
	//
	// default: "layercache"
	Namespace string

	// ConstLabels are added to every metric, for example the service or
	// region. They must not use the names "cache", "layer" or "op"; a
	// clash or an invalid name makes registering the Collector fail.
	//
	// default: none
	ConstLabels prometheus.Labels
}

// Collector is a prometheus.Collector over any number of Stacks. Create it
// with New; the zero Collector is not usable.
type Collector struct {
	d descs

	mu      sync.Mutex // protects sources
	sources []source
}

// source is one Stack added under a name.
type source struct {
	name   string
	stack  *cache.Stack
	layers []*layerstats.Layer
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector with no Stacks. It does not modify opts (it keeps
// a copy of ConstLabels).
func New(opts Options) *Collector {
	ns := opts.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	var labels prometheus.Labels
	if len(opts.ConstLabels) > 0 {
		labels = make(prometheus.Labels, len(opts.ConstLabels))
		for k, v := range opts.ConstLabels {
			labels[k] = v
		}
	}
	return &Collector{d: newDescs(ns, labels)}
}

// Add exports s under the label cache=name. layers are the layerstats
// wrappers of some of s's layers (each named as in s.Layers()); their
// latency is exported too. Add returns an error, and changes nothing, when
// name is empty or already added, s is nil, or a layer is nil, not in s or
// given twice. The Collector keeps s and the layers until Remove; it never
// closes them, and a closed Stack still reports its final counts.
func (c *Collector) Add(name string, s *cache.Stack, layers ...*layerstats.Layer) error {
	if name == "" {
		return errors.New("promcache: Add needs a non-empty name")
	}
	if s == nil {
		return fmt.Errorf("promcache: Add %q: stack is nil", name)
	}
	names := s.Layers()
	seen := make(map[string]bool, len(layers))
	for i, l := range layers {
		if l == nil {
			return fmt.Errorf("promcache: Add %q: layer %d is nil", name, i)
		}
		n := l.Name()
		if !slices.Contains(names, n) {
			return fmt.Errorf("promcache: Add %q: layer %q is not in the stack (layers: %v)", name, n, names)
		}
		if seen[n] {
			return fmt.Errorf("promcache: Add %q: layer %q given twice", name, n)
		}
		seen[n] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, src := range c.sources {
		if src.name == name {
			return fmt.Errorf("promcache: Add %q: a stack was already added under this name", name)
		}
	}
	c.sources = append(c.sources, source{name: name, stack: s, layers: slices.Clone(layers)})
	return nil
}

// Remove stops exporting the Stack added under name and reports whether
// there was one.
func (c *Collector) Remove(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.IndexFunc(c.sources, func(s source) bool { return s.name == name })
	if i < 0 {
		return false
	}
	c.sources = slices.Delete(c.sources, i, i+1)
	return true
}

// Describe sends the descriptor of every family, whatever Stacks have been
// added. It implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	c.d.all(func(d *prometheus.Desc) { ch <- d })
}

// snapshot is what one scrape read from one source.
type snapshot struct {
	name     string
	stats    cache.Stats
	degraded []string
	latency  []layerLatency
}

type layerLatency struct {
	layer string
	ops   []layerstats.Summary // indexed by layerstats.Op
}

// Collect reads every Stack once and sends its metrics, family by family.
// It implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := slices.Clone(c.sources)
	c.mu.Unlock()

	ops := layerstats.Ops()
	snaps := make([]snapshot, len(sources))
	for i, src := range sources {
		sn := snapshot{name: src.name, stats: src.stack.Stats(), degraded: src.stack.DegradedLayers()}
		for _, l := range src.layers {
			ll := layerLatency{layer: l.Name(), ops: make([]layerstats.Summary, len(ops))}
			for _, op := range ops {
				ll.ops[op] = l.Summary(op)
			}
			sn.latency = append(sn.latency, ll)
		}
		snaps[i] = sn
	}
	c.emit(ch, snaps, ops)
}

// emit sends the snapshots' metrics with each family contiguous: the outer
// loops run over families, the inner ones over Stacks.
func (c *Collector) emit(ch chan<- prometheus.Metric, snaps []snapshot, ops []layerstats.Op) {
	d := &c.d
	for _, f := range d.stack {
		for i := range snaps {
			ch <- constMetric(f.desc, prometheus.CounterValue, float64(f.get(&snaps[i].stats)), snaps[i].name)
		}
	}
	for _, f := range d.layer {
		for i := range snaps {
			for j := range snaps[i].stats.Layers {
				l := &snaps[i].stats.Layers[j]
				ch <- constMetric(f.desc, prometheus.CounterValue, float64(f.get(l)), snaps[i].name, l.Name)
			}
		}
	}
	for i := range snaps {
		ch <- constMetric(d.hitRatio, prometheus.GaugeValue, snaps[i].stats.HitRatio(), snaps[i].name)
	}
	for i := range snaps {
		for _, l := range snaps[i].stats.Layers {
			v := 0.0
			if slices.Contains(snaps[i].degraded, l.Name) {
				v = 1
			}
			ch <- constMetric(d.layerDegraded, prometheus.GaugeValue, v, snaps[i].name, l.Name)
		}
	}
	eachOp := func(fn func(name, layer, op string, s *layerstats.Summary)) {
		for i := range snaps {
			for _, ll := range snaps[i].latency {
				for _, op := range ops {
					fn(snaps[i].name, ll.layer, op.String(), &ll.ops[op])
				}
			}
		}
	}
	eachOp(func(name, layer, op string, s *layerstats.Summary) {
		ch <- orInvalid(d.opDuration)(prometheus.NewConstSummary(d.opDuration, s.Count, s.Total.Seconds(), nil, name, layer, op))
	})
	eachOp(func(name, layer, op string, s *layerstats.Summary) {
		ch <- constMetric(d.opMax, prometheus.GaugeValue, s.Max.Seconds(), name, layer, op)
	})
	eachOp(func(name, layer, op string, s *layerstats.Summary) {
		ch <- constMetric(d.opStdDev, prometheus.GaugeValue, s.StdDev().Seconds(), name, layer, op)
	})
	eachOp(func(name, layer, op string, s *layerstats.Summary) {
		ch <- constMetric(d.opErrors, prometheus.CounterValue, float64(s.Errors), name, layer, op)
	})
}

// constMetric is prometheus.MustNewConstMetric without the panic: a desc
// that failed to build (an invalid Options.Namespace or ConstLabels) yields
// an invalid metric, which the registry reports as an error.
func constMetric(desc *prometheus.Desc, typ prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	return orInvalid(desc)(prometheus.NewConstMetric(desc, typ, v, labels...))
}

// orInvalid returns a function that passes a metric through, or turns its
// error into an invalid metric of desc.
func orInvalid(desc *prometheus.Desc) func(prometheus.Metric, error) prometheus.Metric {
	return func(m prometheus.Metric, err error) prometheus.Metric {
		if err != nil {
			return prometheus.NewInvalidMetric(desc, err)
		}
		return m
	}
}
