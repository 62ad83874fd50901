package controller

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/layercache/layercache/api/v1alpha1"
)

// Every validation rule of CachePolicy rejects a bad spec at the API server
// with a message that says what to fix.
func TestCachePolicyValidationRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	size := resource.MustParse("1Gi")
	tests := []struct {
		name string
		mod  func(s *v1alpha1.CachePolicySpec)
		want string
	}{
		{"redis enabled without an address", func(s *v1alpha1.CachePolicySpec) {
			s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, KeyPrefix: "p:"}
		}, "redis.address is required"},
		{"redis enabled without a key prefix", func(s *v1alpha1.CachePolicySpec) {
			s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: "redis:6379"}
		}, "redis.keyPrefix is required"},
		{"redis address without a port", func(s *v1alpha1.CachePolicySpec) {
			s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: "redis", KeyPrefix: "p:"}
		}, "spec.layers.redis.address"},
		{"bus without redis", func(s *v1alpha1.CachePolicySpec) {
			s.Layers.Bus = &v1alpha1.BusSpec{Enabled: true}
		}, "bus.enabled needs the redis layer"},
		{"minimumRequests without a failure ratio", func(s *v1alpha1.CachePolicySpec) {
			s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: "redis:6379", KeyPrefix: "p:",
				CircuitBreaker: &v1alpha1.CircuitBreakerSpec{MinimumRequests: 10}}
		}, "minimumRequests applies only with failureRatioPercent"},
		{"failure ratio above 100 percent", func(s *v1alpha1.CachePolicySpec) {
			s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: "redis:6379", KeyPrefix: "p:",
				CircuitBreaker: &v1alpha1.CircuitBreakerSpec{FailureRatioPercent: 150}}
		}, "failureRatioPercent"},
		{"warming without keys", func(s *v1alpha1.CachePolicySpec) {
			s.Warming = &v1alpha1.WarmingSpec{Concurrency: 2}
		}, "warming needs keys, keysFrom or fromSnapshot"},
		{"a TTL that is not a duration", func(s *v1alpha1.CachePolicySpec) {
			s.Freshness = &v1alpha1.FreshnessSpec{TTL: "five minutes"}
		}, "spec.freshness.ttl"},
		{"a relative disk path", func(s *v1alpha1.CachePolicySpec) {
			s.Layers.Disk = &v1alpha1.DiskLayerSpec{Enabled: true, Path: "cache", MaxSize: &size}
		}, "spec.layers.disk.path"},
		{"an origin that is not http", func(s *v1alpha1.CachePolicySpec) {
			s.Origins = []v1alpha1.OriginSpec{{KeyPattern: "u:*", URLTemplate: "ftp://x/{1}"}}
		}, "urlTemplate"},
		{"an unknown compression", func(s *v1alpha1.CachePolicySpec) {
			s.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: "redis:6379", KeyPrefix: "p:", Compression: "lz4"}
		}, "compression"},
		{"too many warming keys", func(s *v1alpha1.CachePolicySpec) {
			s.Warming = &v1alpha1.WarmingSpec{Keys: make([]string, 1001)}
		}, "spec.warming.keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mustBeRejected(t, newPolicy(ns, "", "x", tt.mod), tt.name, tt.want)
		})
	}
}

func TestCachePolicyValidationAcceptsAFullSpec(t *testing.T) {
	t.Parallel()
	ns := newNamespace(t)
	size := resource.MustParse("256Mi")
	p := newPolicy(ns, "full", "x", func(s *v1alpha1.CachePolicySpec) {
		s.Layers = v1alpha1.LayersSpec{
			Memory: &v1alpha1.MemoryLayerSpec{MaxEntries: 5000, MaxSize: &size, TTL: "1m"},
			Redis: &v1alpha1.RedisLayerSpec{Enabled: true, Address: "redis.cache.svc:6379", KeyPrefix: "shop:",
				PasswordSecretRef: &v1alpha1.SecretKeyRef{Name: "redis", Key: "password"}, Compression: "Zstd",
				CircuitBreaker: &v1alpha1.CircuitBreakerSpec{FailureRatioPercent: 50, MinimumRequests: 20, OpenSeconds: 10}},
			Disk: &v1alpha1.DiskLayerSpec{Enabled: true, MaxSize: &size},
			Bus:  &v1alpha1.BusSpec{Enabled: true},
		}
		s.Freshness = &v1alpha1.FreshnessSpec{TTL: "5m", StaleWhileRevalidate: "1m", StaleIfError: "1h", NegativeTTL: "30s", Jitter: "5s"}
		s.Origins = []v1alpha1.OriginSpec{{KeyPattern: "product:*", URLTemplate: "http://catalog.shop.svc/products/{1}", Tags: []string{"products"}}}
		s.Warming = &v1alpha1.WarmingSpec{Keys: []string{"product:1"}, BlockReadiness: true, TimeoutSeconds: 60}
		s.Snapshots = &v1alpha1.SnapshotPolicy{Schedule: "@hourly", KeepLast: 3}
	})
	if err := k8s.Create(context.Background(), p); err != nil {
		t.Fatalf("a valid full spec was refused: %v", err)
	}
}
