package promcache

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layercache/layercache/pkg/cache"
)

// Label names.
const (
	LabelCache = "cache" // the name given to Add
	LabelLayer = "layer" // cache.LayerInfo.Name
	LabelOp    = "op"    // layerstats.Op.String()
)

// stackCounter is a family with one counter per Stack, read from one field
// of cache.Stats.
type stackCounter struct {
	field string // name of the cache.Stats field, for the coverage test
	desc  *prometheus.Desc
	get   func(*cache.Stats) uint64
}

// layerCounter is a family with one counter per layer of each Stack.
type layerCounter struct {
	desc *prometheus.Desc
	get  func(*cache.LayerStats) uint64
}

// counterSpec names a Stack counter family: its metric name without the
// namespace and "_total", the cache.Stats field, the help text and the
// getter.
type counterSpec struct {
	name, field, help string
	get               func(*cache.Stats) uint64
}

// stackCounterSpecs lists the Stack counters in export order. It is a
// function, not a package variable, so no state is shared between
// Collectors.
func stackCounterSpecs() []counterSpec {
	return []counterSpec{
		{"hits", "Hits", "Get calls answered from a layer (fresh or stale).", func(s *cache.Stats) uint64 { return s.Hits }},
		{"misses", "Misses", "Get calls no layer could answer.", func(s *cache.Stats) uint64 { return s.Misses }},
		{"stale_hits", "StaleHits", "Hits served from a stale window.", func(s *cache.Stats) uint64 { return s.StaleHits }},
		{"negative_hits", "NegativeHits", "Hits on a cached \"not found\".", func(s *cache.Stats) uint64 { return s.NegativeHits }},
		{"fetches", "Fetches", "Fetcher calls, after deduplication.", func(s *cache.Stats) uint64 { return s.Fetches }},
		{"fetch_errors", "FetchErrors", "Fetcher calls that failed (not found excluded).", func(s *cache.Stats) uint64 { return s.FetchErrors }},
		{"dedupes", "Dedupes", "Callers that joined another caller's fetch.", func(s *cache.Stats) uint64 { return s.Dedupes }},
		{"refreshes", "Refreshes", "Background refreshes started.", func(s *cache.Stats) uint64 { return s.Refreshes }},
		{"refresh_errors", "RefreshErrors", "Background refreshes that failed.", func(s *cache.Stats) uint64 { return s.RefreshErrors }},
		{"sets", "Sets", "Entries written (Set, SetMany items, fetched values).", func(s *cache.Stats) uint64 { return s.Sets }},
		{"deletes", "Deletes", "Keys deleted.", func(s *cache.Stats) uint64 { return s.Deletes }},
		{"backfills", "Backfills", "Entries copied into a faster layer.", func(s *cache.Stats) uint64 { return s.Backfills }},
		{"write_failures", "WriteFailures", "Layer writes that failed.", func(s *cache.Stats) uint64 { return s.WriteFailures }},
		{"fenced_writes", "FencedWrites", "Fetched values not stored because a newer write or invalidation won.", func(s *cache.Stats) uint64 { return s.FencedWrites }},
		{"corrupt_entries", "Corrupt", "Undecodable entries met (treated as misses and deleted).", func(s *cache.Stats) uint64 { return s.Corrupt }},
		{"tag_errors", "TagErrors", "Failed tag index updates.", func(s *cache.Stats) uint64 { return s.TagErrors }},
		{"invalidations", "Invalidations", "Tag, prefix and pattern invalidation calls.", func(s *cache.Stats) uint64 { return s.Invalidations }},
		{"expirations", "Expirations", "Keys marked stale by Expire calls.", func(s *cache.Stats) uint64 { return s.Expirations }},
		{"degradations", "Degradations", "Times a failing layer started being skipped.", func(s *cache.Stats) uint64 { return s.Degradations }},
		{"breaker_open", "BreakerOpen", "Fetches refused by an open circuit breaker.", func(s *cache.Stats) uint64 { return s.BreakerOpen }},
		{"rate_limited", "RateLimited", "Fetches refused by the rate limiter.", func(s *cache.Stats) uint64 { return s.RateLimited }},
		{"bus_published", "BusPublished", "Invalidation messages sent.", func(s *cache.Stats) uint64 { return s.BusPublished }},
		{"bus_received", "BusReceived", "Invalidation messages applied from other instances.", func(s *cache.Stats) uint64 { return s.BusReceived }},
		{"bus_errors", "BusErrors", "Failed invalidation publishes and subscriptions.", func(s *cache.Stats) uint64 { return s.BusErrors }},
		{"bus_reconnects", "BusReconnects", "Invalidation bus reconnects (each drops the local layers).", func(s *cache.Stats) uint64 { return s.BusReconnects }},
		{"remote_results", "RemoteResults", "Fetch results received from another instance.", func(s *cache.Stats) uint64 { return s.RemoteResults }},
		{"coordinator_errors", "CoordinatorErrors", "Coordinated fetches that fell back to a local fetch.", func(s *cache.Stats) uint64 { return s.CoordinatorErrors }},
	}
}

// descs holds every family the Collector exports, built once by New.
type descs struct {
	stack         []stackCounter
	layer         []layerCounter
	hitRatio      *prometheus.Desc
	layerDegraded *prometheus.Desc
	opDuration    *prometheus.Desc
	opMax         *prometheus.Desc
	opStdDev      *prometheus.Desc
	opErrors      *prometheus.Desc
}

// validNamespace reports whether ns is a metric name prefix in the classic
// character set, [a-zA-Z_][a-zA-Z0-9_]*, which every scraper accepts.
func validNamespace(ns string) bool {
	for i, r := range ns {
		if r != '_' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return ns != ""
}

// newDescs builds the descriptors. An invalid namespace turns every one into
// an invalid desc, so that registering the Collector fails with its error.
func newDescs(ns string, constLabels prometheus.Labels) descs {
	d := buildDescs(ns, constLabels)
	if !validNamespace(ns) {
		err := fmt.Errorf("promcache: Options.Namespace %q must match [a-zA-Z_][a-zA-Z0-9_]*", ns)
		invalid := prometheus.NewInvalidDesc(err)
		for i := range d.stack {
			d.stack[i].desc = invalid
		}
		for i := range d.layer {
			d.layer[i].desc = invalid
		}
		d.hitRatio, d.layerDegraded, d.opDuration, d.opMax, d.opStdDev, d.opErrors =
			invalid, invalid, invalid, invalid, invalid, invalid
	}
	return d
}

func buildDescs(ns string, constLabels prometheus.Labels) descs {
	name := func(n string) string { return prometheus.BuildFQName(ns, "", n) }
	cacheL := []string{LabelCache}
	layerL := []string{LabelCache, LabelLayer}
	opL := []string{LabelCache, LabelLayer, LabelOp}
	var d descs
	for _, sp := range stackCounterSpecs() {
		d.stack = append(d.stack, stackCounter{
			field: sp.field,
			desc:  prometheus.NewDesc(name(sp.name+"_total"), sp.help, cacheL, constLabels),
			get:   sp.get,
		})
	}
	d.layer = []layerCounter{
		{prometheus.NewDesc(name("layer_hits_total"), "Reads a layer answered with a usable entry.", layerL, constLabels),
			func(l *cache.LayerStats) uint64 { return l.Hits }},
		{prometheus.NewDesc(name("layer_misses_total"), "Reads a layer could not answer.", layerL, constLabels),
			func(l *cache.LayerStats) uint64 { return l.Misses }},
		{prometheus.NewDesc(name("layer_errors_total"), "Failed operations of a layer.", layerL, constLabels),
			func(l *cache.LayerStats) uint64 { return l.Errors }},
	}
	d.hitRatio = prometheus.NewDesc(name("hit_ratio"),
		"Hits / (hits + misses) since the Stack was created; 0 before the first Get.", cacheL, constLabels)
	d.layerDegraded = prometheus.NewDesc(name("layer_degraded"),
		"1 while the Stack skips the layer after a failure, else 0.", layerL, constLabels)
	d.opDuration = prometheus.NewDesc(name("layer_operation_duration_seconds"),
		"Latency of layer operations, as timed by layerstats.", opL, constLabels)
	d.opMax = prometheus.NewDesc(name("layer_operation_duration_max_seconds"),
		"Longest layer operation since the layer was wrapped.", opL, constLabels)
	d.opStdDev = prometheus.NewDesc(name("layer_operation_duration_stddev_seconds"),
		"Sample standard deviation of layer operation latency.", opL, constLabels)
	d.opErrors = prometheus.NewDesc(name("layer_operation_errors_total"),
		"Layer operations that returned an error, as counted by layerstats.", opL, constLabels)
	return d
}

// all calls fn for every desc in export order.
func (d *descs) all(fn func(*prometheus.Desc)) {
	for _, c := range d.stack {
		fn(c.desc)
	}
	for _, c := range d.layer {
		fn(c.desc)
	}
	for _, desc := range []*prometheus.Desc{d.hitRatio, d.layerDegraded, d.opDuration, d.opMax, d.opStdDev, d.opErrors} {
		fn(desc)
	}
}
