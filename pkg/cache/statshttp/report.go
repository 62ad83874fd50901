package statshttp

import (
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/layerstats"
)

// Report is the JSON document the handler serves. Clients may decode it
// into this type.
type Report struct {
	// Counters are the Stack's counters since it was created.
	Counters Counters `json:"counters"`
	// HitRatio is hits / (hits + misses), 0 before the first Get.
	HitRatio float64 `json:"hitRatio"`
	// Layers describes each layer, fastest first.
	Layers []LayerReport `json:"layers"`
	// Latency holds, per layer name, the latency of each operation kind
	// ("get", "set", ...) of the layers given in Options.Layers. It is
	// omitted when there are none.
	Latency map[string]map[string]Latency `json:"latency,omitempty"`
}

// Counters mirrors the counters of cache.Stats; see its documentation for
// what each one counts.
type Counters struct {
	Hits              uint64 `json:"hits"`
	Misses            uint64 `json:"misses"`
	StaleHits         uint64 `json:"staleHits"`
	NegativeHits      uint64 `json:"negativeHits"`
	Fetches           uint64 `json:"fetches"`
	FetchErrors       uint64 `json:"fetchErrors"`
	Dedupes           uint64 `json:"dedupes"`
	Refreshes         uint64 `json:"refreshes"`
	RefreshErrors     uint64 `json:"refreshErrors"`
	Sets              uint64 `json:"sets"`
	Deletes           uint64 `json:"deletes"`
	Backfills         uint64 `json:"backfills"`
	WriteFailures     uint64 `json:"writeFailures"`
	FencedWrites      uint64 `json:"fencedWrites"`
	Corrupt           uint64 `json:"corrupt"`
	LayerErrors       uint64 `json:"layerErrors"`
	Invalidations     uint64 `json:"invalidations"`
	Expirations       uint64 `json:"expirations"`
	TagErrors         uint64 `json:"tagErrors"`
	Degradations      uint64 `json:"degradations"`
	BreakerOpen       uint64 `json:"breakerOpen"`
	RateLimited       uint64 `json:"rateLimited"`
	BusPublished      uint64 `json:"busPublished"`
	BusReceived       uint64 `json:"busReceived"`
	BusErrors         uint64 `json:"busErrors"`
	BusReconnects     uint64 `json:"busReconnects"`
	RemoteResults     uint64 `json:"remoteResults"`
	CoordinatorErrors uint64 `json:"coordinatorErrors"`
}

// LayerReport describes one layer of the Stack.
type LayerReport struct {
	Name   string `json:"name"`
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
	Errors uint64 `json:"errors"`
	// Degraded is true while the Stack skips the layer after a failure.
	Degraded bool `json:"degraded"`
}

// Latency summarises one kind of operation of one layer
// (layerstats.Summary, in seconds).
type Latency struct {
	Count         uint64  `json:"count"`
	Errors        uint64  `json:"errors"`
	TotalSeconds  float64 `json:"totalSeconds"`
	MeanSeconds   float64 `json:"meanSeconds"`
	MaxSeconds    float64 `json:"maxSeconds"`
	StdDevSeconds float64 `json:"stdDevSeconds"`
}

func counters(s *cache.Stats) Counters {
	return Counters{
		Hits: s.Hits, Misses: s.Misses, StaleHits: s.StaleHits, NegativeHits: s.NegativeHits,
		Fetches: s.Fetches, FetchErrors: s.FetchErrors, Dedupes: s.Dedupes,
		Refreshes: s.Refreshes, RefreshErrors: s.RefreshErrors,
		Sets: s.Sets, Deletes: s.Deletes, Backfills: s.Backfills, WriteFailures: s.WriteFailures,
		FencedWrites: s.FencedWrites, Corrupt: s.Corrupt, LayerErrors: s.LayerErrors,
		Invalidations: s.Invalidations, Expirations: s.Expirations, TagErrors: s.TagErrors,
		Degradations: s.Degradations, BreakerOpen: s.BreakerOpen, RateLimited: s.RateLimited,
		BusPublished: s.BusPublished, BusReceived: s.BusReceived, BusErrors: s.BusErrors,
		BusReconnects: s.BusReconnects, RemoteResults: s.RemoteResults, CoordinatorErrors: s.CoordinatorErrors,
	}
}

func latency(s layerstats.Summary) Latency {
	return Latency{
		Count: s.Count, Errors: s.Errors, TotalSeconds: s.Total.Seconds(), MeanSeconds: s.Mean.Seconds(),
		MaxSeconds: s.Max.Seconds(), StdDevSeconds: s.StdDev().Seconds(),
	}
}

// report builds the Report of s and the timed layers.
func report(s *cache.Stack, timed []*layerstats.Layer) Report {
	st := s.Stats()
	degraded := map[string]bool{}
	for _, name := range s.DegradedLayers() {
		degraded[name] = true
	}
	r := Report{Counters: counters(&st), HitRatio: st.HitRatio(), Layers: make([]LayerReport, 0, len(st.Layers))}
	for _, l := range st.Layers {
		r.Layers = append(r.Layers, LayerReport{Name: l.Name, Hits: l.Hits, Misses: l.Misses, Errors: l.Errors, Degraded: degraded[l.Name]})
	}
	if len(timed) > 0 {
		r.Latency = make(map[string]map[string]Latency, len(timed))
		for _, l := range timed {
			ops := make(map[string]Latency)
			for _, op := range layerstats.Ops() {
				ops[op.String()] = latency(l.Summary(op))
			}
			r.Latency[l.Name()] = ops
		}
	}
	return r
}
