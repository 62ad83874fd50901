// Package promcache exports the counters of cache.Stack values to
// Prometheus.
//
// A [Collector] is a prometheus.Collector. Register it once and add every
// Stack to export, each under its own value of the "cache" label:
//
//	c := promcache.New(promcache.Options{})
//	if err := c.Add("users", usersStack, timedRedis); err != nil { ... }
//	if err := c.Add("sessions", sessionsStack); err != nil { ... }
//	prometheus.MustRegister(c)
//
// On every scrape the Collector reads Stack.Stats and Stack.DegradedLayers
// (and the latency summaries of the layerstats.Layer values given to Add);
// it keeps no state of its own beyond the list of Stacks, so a scrape costs a
// few atomic loads per counter and nothing on the cache's hot path.
//
// Exported families (the prefix is Options.Namespace, "layercache" by
// default; every family has the "cache" label):
//
//   - One counter per field of cache.Stats, named <namespace>_<field>_total:
//     hits, misses, stale_hits, negative_hits, fetches, fetch_errors,
//     dedupes, refreshes, refresh_errors, sets, deletes, backfills,
//     write_failures, fenced_writes, corrupt_entries, tag_errors,
//     invalidations, expirations, degradations, breaker_open, rate_limited,
//     bus_published, bus_received, bus_errors, bus_reconnects,
//     remote_results and coordinator_errors.
//   - <namespace>_layer_hits_total, _layer_misses_total and
//     _layer_errors_total, with the "layer" label (Stats.Layers; the sum of
//     _layer_errors_total over layers is Stats.LayerErrors).
//   - <namespace>_hit_ratio (gauge): hits / (hits + misses), 0 before the
//     first Get.
//   - <namespace>_layer_degraded (gauge, "layer" label): 1 while the Stack
//     skips the layer after a failure (Options.DegradeFor), else 0.
//   - For layers timed by layerstats, with the "layer" and "op" labels:
//     <namespace>_layer_operation_duration_seconds (summary: count and sum,
//     no quantiles), _layer_operation_duration_max_seconds and
//     _layer_operation_duration_stddev_seconds (gauges), and
//     _layer_operation_errors_total (counter).
//
// Each family's samples are written together, one family after another, in
// the order listed, so the text exposition never interleaves families (the
// registry also groups them). The set of families is fixed: Describe
// reports all of them whatever Stacks are added, so the Collector registers
// as a checked collector and Stacks may be added and removed after
// registration.
//
// A namespaced Stack (Stack.Namespace) shares its parent's counters: add the
// root only, or the same counters are exported twice under two names.
//
// Every method of Collector is safe for concurrent use.
package promcache
