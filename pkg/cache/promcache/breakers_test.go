package promcache_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/layercache/layercache/pkg/cache/breaker"
	"github.com/layercache/layercache/pkg/cache/promcache"
)

func TestBreakerCollectorExportsTripsAndStates(t *testing.T) {
	t.Parallel()
	set, err := breaker.New(breaker.Options{ConsecutiveFailures: 1})
	if err != nil {
		t.Fatal(err)
	}
	done, err := set.Allow("key:a")
	if err != nil {
		t.Fatal(err)
	}
	done(false) // trips key:a
	if _, err := set.Allow("key:a"); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("Allow after a trip = %v, want ErrOpen", err)
	}
	bc := promcache.NewBreakerCollector(promcache.Options{})
	if err := bc.Add("users", set); err != nil {
		t.Fatal(err)
	}
	if err := bc.Add("users", set); err == nil {
		t.Error("adding the same name twice succeeded")
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(bc)
	want := `
# HELP layercache_breaker_breakers Circuit breakers by state.
# TYPE layercache_breaker_breakers gauge
layercache_breaker_breakers{cache="users",state="closed"} 0
layercache_breaker_breakers{cache="users",state="half-open"} 0
layercache_breaker_breakers{cache="users",state="open"} 1
# HELP layercache_breaker_rejections_total Calls refused by an open or probing circuit breaker.
# TYPE layercache_breaker_rejections_total counter
layercache_breaker_rejections_total{cache="users"} 1
# HELP layercache_breaker_trips_total Times a circuit breaker opened (a trip condition was met, or a half-open probe failed).
# TYPE layercache_breaker_trips_total counter
layercache_breaker_trips_total{cache="users"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"layercache_breaker_breakers", "layercache_breaker_rejections_total", "layercache_breaker_trips_total"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
