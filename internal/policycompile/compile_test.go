package policycompile_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/policycompile"
)

func policy(mod func(s *v1alpha1.CachePolicySpec)) *v1alpha1.CachePolicy {
	p := &v1alpha1.CachePolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "catalog", UID: "u-1", Generation: 4}}
	if mod != nil {
		mod(&p.Spec)
	}
	return p
}

func TestCompileMapsEveryField(t *testing.T) {
	t.Parallel()
	size := resource.MustParse("64Mi")
	cp := policy(func(s *v1alpha1.CachePolicySpec) {
		s.Layers = v1alpha1.LayersSpec{
			Memory: &v1alpha1.MemoryLayerSpec{MaxEntries: 500, MaxSize: &size, TTL: "1m"},
			Redis: &v1alpha1.RedisLayerSpec{Enabled: true, Address: "redis:6379", KeyPrefix: "shop:", DB: 2, Compression: "Zstd",
				PasswordSecretRef: &v1alpha1.SecretKeyRef{Name: "redis", Key: "password"},
				CircuitBreaker:    &v1alpha1.CircuitBreakerSpec{FailureRatioPercent: 25, MinimumRequests: 40, OpenSeconds: 15}},
			Disk: &v1alpha1.DiskLayerSpec{Enabled: true},
			Bus:  &v1alpha1.BusSpec{Enabled: true, SecretRef: &v1alpha1.SecretKeyRef{Name: "bus", Key: "hmac"}},
		}
		s.Freshness = &v1alpha1.FreshnessSpec{TTL: "5m", StaleWhileRevalidate: "30s"}
		s.Origins = []v1alpha1.OriginSpec{{KeyPattern: "product:*", URLTemplate: "http://catalog/products/{1}", Timeout: "2s"}}
		s.Warming = &v1alpha1.WarmingSpec{Keys: []string{"product:1"}, TimeoutSeconds: 30}
		s.Snapshots = &v1alpha1.SnapshotPolicy{}
	})
	p, err := policycompile.Compile(cp, policycompile.Inputs{WarmKeys: []string{"product:2"}, SnapshotPath: "/snapshots/x.lcs"})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Layers.Redis
	switch {
	case p.UID != "u-1" || p.Generation != 4 || p.Name != "shop/catalog" || !strings.HasPrefix(p.Hash, "sha256:"):
		t.Fatalf("identity: %+v", p)
	case p.Layers.Memory.MaxEntries != 500 || p.Layers.Memory.MaxBytes != 64<<20 || p.Layers.Memory.TTL.Std() != time.Minute:
		t.Fatalf("memory: %+v", p.Layers.Memory)
	case r == nil || r.Addr != "redis:6379" || r.DB != 2 || r.Compression != "zstd" || r.PasswordFile != policycompile.SecretsPath+"/redis/password":
		t.Fatalf("redis: %+v", r)
	case r.Breaker == nil || r.Breaker.FailureRatio != 0.25 || r.Breaker.MinRequests != 40 || r.Breaker.OpenFor.Std() != 15*time.Second:
		t.Fatalf("breaker: %+v", r.Breaker)
	case p.Layers.Disk == nil || p.Layers.Disk.Dir != policycompile.DefaultDiskPath:
		t.Fatalf("disk: %+v", p.Layers.Disk)
	case p.Bus == nil || p.Bus.SecretFile != policycompile.SecretsPath+"/bus/hmac":
		t.Fatalf("bus: %+v", p.Bus)
	case p.Freshness.TTL.Std() != 5*time.Minute || p.Freshness.StaleWhileRevalidate.Std() != 30*time.Second:
		t.Fatalf("freshness: %+v", p.Freshness)
	case !slices.Equal(p.Warming.Keys, []string{"product:1", "product:2"}) || p.Warming.Timeout.Std() != 30*time.Second:
		t.Fatalf("warming: %+v", p.Warming)
	case p.Snapshots.Dir != policycompile.DefaultSnapshotPath || p.Warming.Snapshot != "/snapshots/x.lcs":
		t.Fatalf("snapshots: %+v", p.Snapshots)
	}
}

func TestCompileHashFollowsContentNotGeneration(t *testing.T) {
	t.Parallel()
	a, err := policycompile.Compile(policy(func(s *v1alpha1.CachePolicySpec) { s.Freshness = &v1alpha1.FreshnessSpec{TTL: "5m"} }), policycompile.Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	later := policy(func(s *v1alpha1.CachePolicySpec) { s.Freshness = &v1alpha1.FreshnessSpec{TTL: "5m"} })
	later.Generation = 9
	b, _ := policycompile.Compile(later, policycompile.Inputs{})
	c, _ := policycompile.Compile(policy(func(s *v1alpha1.CachePolicySpec) { s.Freshness = &v1alpha1.FreshnessSpec{TTL: "6m"} }), policycompile.Inputs{})
	if a.Hash != b.Hash || a.Hash == c.Hash {
		t.Fatalf("hashes: same content %s / %s, other TTL %s; want equal, then different", a.Hash, b.Hash, c.Hash)
	}
}

func TestCompileRefusesWhatAgentsWouldRefuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mod  func(s *v1alpha1.CachePolicySpec)
		warm []string
		want string
	}{
		{"a duration Go cannot parse", func(s *v1alpha1.CachePolicySpec) { s.Freshness = &v1alpha1.FreshnessSpec{TTL: "5x"} }, nil, "spec.freshness.ttl"},
		{"a warming key no origin serves", func(s *v1alpha1.CachePolicySpec) {
			s.Origins = []v1alpha1.OriginSpec{{KeyPattern: "user:*", URLTemplate: "http://u/{1}"}}
			s.Warming = &v1alpha1.WarmingSpec{}
		}, []string{"order:1"}, "warming"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := policycompile.Compile(policy(tt.mod), policycompile.Inputs{WarmKeys: tt.warm}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Compile = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseKeyListSkipsBlanksAndComments(t *testing.T) {
	t.Parallel()
	got := policycompile.ParseKeyList("# hot keys\n user:1 \n\nuser:2\r\n#user:3\n")
	if !slices.Equal(got, []string{"user:1", "user:2"}) {
		t.Fatalf("ParseKeyList = %q", got)
	}
}
