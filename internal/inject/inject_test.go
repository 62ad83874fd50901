package inject

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/golden"
)

const testImage = "registry.example/layercache/agent:v1.2.3"

// appPod is a labelled pod of namespace shop with one application
// container.
func appPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-0", Namespace: "shop",
			Labels: map[string]string{"app": "web", v1alpha1.LabelInject: "true"},
		},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/web:1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}}},
	}
}

// memoryPolicy is a policy with only the memory tier.
func memoryPolicy() *v1alpha1.CachePolicy {
	return &v1alpha1.CachePolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web-cache", Namespace: "shop"},
		Spec: v1alpha1.CachePolicySpec{
			Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Layers:   v1alpha1.LayersSpec{Memory: &v1alpha1.MemoryLayerSpec{MaxEntries: 1000}},
		},
	}
}

// fullPolicy uses every tier, snapshots, Secrets (two keys of one) and a
// warm-up that holds readiness.
func fullPolicy() *v1alpha1.CachePolicy {
	p := memoryPolicy()
	p.Spec.Layers.Redis = &v1alpha1.RedisLayerSpec{
		Enabled: true, Address: "redis.shop:6379", KeyPrefix: "web:",
		PasswordSecretRef: &v1alpha1.SecretKeyRef{Name: "redis-auth", Key: "password"},
	}
	p.Spec.Layers.Bus = &v1alpha1.BusSpec{Enabled: true, SecretRef: &v1alpha1.SecretKeyRef{Name: "redis-auth", Key: "bus-hmac"}}
	p.Spec.Layers.Disk = &v1alpha1.DiskLayerSpec{Enabled: true, MaxSize: ptr.To(resource.MustParse("512Mi"))}
	p.Spec.Snapshots = &v1alpha1.SnapshotPolicy{}
	p.Spec.Warming = &v1alpha1.WarmingSpec{Keys: []string{"home"}, BlockReadiness: true, TimeoutSeconds: 120}
	return p
}

func TestInjectGolden(t *testing.T) {
	t.Parallel()
	native := Config{AgentImage: testImage, NativeSidecars: true}
	regular := Config{AgentImage: testImage}
	for _, tc := range []struct {
		name   string
		pod    func() *corev1.Pod
		policy func() *v1alpha1.CachePolicy
		cfg    Config
	}{
		{name: "native_sidecar_memory_only", pod: appPod, policy: memoryPolicy, cfg: native},
		{name: "regular_container_memory_only", pod: appPod, policy: memoryPolicy, cfg: regular},
		{name: "native_sidecar_all_tiers_and_secrets", pod: appPod, policy: fullPolicy, cfg: native},
		{name: "regular_container_all_tiers_and_secrets", pod: appPod, policy: fullPolicy, cfg: regular},
		{
			name: "disk_larger_than_limit_sharing_snapshots_and_long_secret_name", pod: appPod, cfg: native,
			policy: func() *v1alpha1.CachePolicy {
				p := memoryPolicy()
				p.Spec.Layers.Disk = &v1alpha1.DiskLayerSpec{Enabled: true, Path: "/data/cache", MaxSize: ptr.To(resource.MustParse("5Gi"))}
				p.Spec.Snapshots = &v1alpha1.SnapshotPolicy{Path: "/data/cache/"}
				p.Spec.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: true, Address: "redis:6379", KeyPrefix: "w:"}
				p.Spec.Layers.Bus = &v1alpha1.BusSpec{Enabled: true, SecretRef: &v1alpha1.SecretKeyRef{
					Name: "web.cache.bus-signing-key.a-rather-long-name-for-a-secret-indeed", Key: "hmac",
				}}
				return p
			},
		},
		{
			name: "disabled_layers_mount_nothing", pod: appPod, cfg: native,
			policy: func() *v1alpha1.CachePolicy {
				p := memoryPolicy()
				p.Spec.Layers.Disk = &v1alpha1.DiskLayerSpec{Enabled: false}
				p.Spec.Layers.Redis = &v1alpha1.RedisLayerSpec{Enabled: false, PasswordSecretRef: &v1alpha1.SecretKeyRef{Name: "unused", Key: "password"}}
				return p
			},
		},
		{
			name: "admin_port_from_policy", pod: appPod, cfg: regular,
			policy: func() *v1alpha1.CachePolicy { p := memoryPolicy(); p.Spec.AdminPort = 9443; return p },
		},
		{
			name: "admin_port_from_pod_annotation_over_policy", cfg: regular,
			pod: func() *corev1.Pod {
				p := appPod()
				p.Annotations = map[string]string{v1alpha1.AnnotationAdminPort: "8443"}
				return p
			},
			policy: func() *v1alpha1.CachePolicy { p := memoryPolicy(); p.Spec.AdminPort = 9443; return p },
		},
		{
			name: "native_sidecar_before_existing_init_containers", policy: memoryPolicy, cfg: native,
			pod: func() *corev1.Pod {
				p := appPod()
				p.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "registry.example/migrate:1"}}
				return p
			},
		},
		{
			name: "custom_resources_pull_policy_and_disk_limit", pod: appPod, cfg: Config{
				AgentImage: testImage, ImagePullPolicy: corev1.PullAlways, NativeSidecars: true,
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
				},
				DiskSizeLimit: resource.MustParse("2Gi"),
			},
			policy: func() *v1alpha1.CachePolicy {
				p := memoryPolicy()
				p.Spec.Layers.Disk = &v1alpha1.DiskLayerSpec{Enabled: true}
				return p
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := tc.pod()
			changed, err := Inject(pod, tc.policy(), tc.cfg)
			if err != nil || !changed {
				t.Fatalf("Inject = %v, %v; want true, nil", changed, err)
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".yaml"), podYAML(t, pod))

			again := pod.DeepCopy()
			if changed, err := Inject(again, tc.policy(), tc.cfg); err != nil || changed {
				t.Fatalf("second Inject = %v, %v; want false, nil", changed, err)
			}
			if !equality.Semantic.DeepEqual(again, pod) {
				t.Errorf("second Inject changed the pod:\n%s", podYAML(t, again))
			}
		})
	}
}

func TestInjectRefusesAPodInTheAgentsWay(t *testing.T) {
	t.Parallel()
	cfg := Config{AgentImage: testImage, NativeSidecars: true}
	for _, tc := range []struct {
		name     string
		mutate   func(*corev1.Pod)
		policy   func() *v1alpha1.CachePolicy
		cfg      *Config
		conflict bool   // the error wraps ErrConflict
		want     string // in the error
	}{
		{
			name:     "a container named like the agent",
			mutate:   func(p *corev1.Pod) { p.Spec.Containers[0].Name = ContainerName },
			conflict: true, want: `container "layercache-agent"`,
		},
		{
			name: "an init container named like the agent",
			mutate: func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: ContainerName, Image: "x"}}
			},
			conflict: true, want: `container "layercache-agent"`,
		},
		{
			name: "a volume named like the agent's TLS volume",
			mutate: func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: volTLS}}
			},
			conflict: true, want: `volume "lc-tls"`,
		},
		{
			name: "a volume named like the disk tier's, when the disk tier is on",
			mutate: func(p *corev1.Pod) {
				p.Spec.Volumes = []corev1.Volume{{Name: volDisk}}
			},
			policy:   fullPolicy,
			conflict: true, want: `volume "lc-disk"`,
		},
		{
			name: "a container port the agent listens on",
			mutate: func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: 7080})
			},
			conflict: true, want: "port 7080",
		},
		{
			name: "the admin port chosen by annotation",
			mutate: func(p *corev1.Pod) {
				p.Annotations = map[string]string{v1alpha1.AnnotationAdminPort: "8080"}
			},
			conflict: true, want: "port 8080",
		},
		{
			name: "a port named like the agent's",
			mutate: func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports[0].Name = PortProbesName
			},
			conflict: true, want: `port name "lc-probes"`,
		},
		{
			name: "an admin-port annotation that is not a port",
			mutate: func(p *corev1.Pod) {
				p.Annotations = map[string]string{v1alpha1.AnnotationAdminPort: "https"}
			},
			want: "is not a port",
		},
		{
			name:   "a policy of another namespace",
			mutate: func(*corev1.Pod) {},
			policy: func() *v1alpha1.CachePolicy { p := memoryPolicy(); p.Namespace = "other"; return p },
			want:   "cannot serve a pod of namespace shop",
		},
		{
			name:   "a config without an image",
			mutate: func(*corev1.Pod) {},
			cfg:    &Config{NativeSidecars: true},
			want:   "AgentImage is required",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := appPod()
			tc.mutate(pod)
			before := pod.DeepCopy()
			policy, c := memoryPolicy(), cfg
			if tc.policy != nil {
				policy = tc.policy()
			}
			if tc.cfg != nil {
				c = *tc.cfg
			}
			changed, err := Inject(pod, policy, c)
			if err == nil || changed {
				t.Fatalf("Inject = %v, %v; want an error", changed, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if got := errors.Is(err, ErrConflict); got != tc.conflict {
				t.Errorf("errors.Is(%q, ErrConflict) = %v, want %v", err, got, tc.conflict)
			}
			if !equality.Semantic.DeepEqual(pod, before) {
				t.Errorf("a refused pod was changed:\n%s", podYAML(t, pod))
			}
		})
	}
}

func TestInjectLeavesAMarkedPodAlone(t *testing.T) {
	t.Parallel()
	pod := appPod()
	pod.Annotations = map[string]string{v1alpha1.AnnotationInjectStatus: InjectedStatus}
	before := pod.DeepCopy()
	// Even with a nil policy and an empty Config: nothing is looked at.
	changed, err := Inject(pod, nil, Config{})
	if err != nil || changed {
		t.Fatalf("Inject = %v, %v; want false, nil", changed, err)
	}
	if !equality.Semantic.DeepEqual(pod, before) {
		t.Errorf("a marked pod was changed:\n%s", podYAML(t, pod))
	}
}

func TestSecretVolumeNamesAreValidAndDistinct(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ secret, want string }{
		{"redis-auth", "lc-secret-redis-auth"},
		{"web.cache.key", "lc-secret-"},         // dots: hashed
		{strings.Repeat("a", 60), "lc-secret-"}, // too long for a label: hashed
	} {
		got := secretVolumeName(tc.secret)
		if !strings.HasPrefix(got, tc.want) || len(got) > 63 || strings.Contains(got, ".") {
			t.Errorf("secretVolumeName(%q) = %q; want a DNS label starting with %q", tc.secret, got, tc.want)
		}
	}
	if a, b := secretVolumeName("a.b"), secretVolumeName("a.c"); a == b {
		t.Errorf("secretVolumeName gave %q to two Secrets", a)
	}
}

// podYAML is the golden form of pod: its metadata and spec.
func podYAML(t *testing.T, pod *corev1.Pod) []byte {
	t.Helper()
	out, err := yaml.Marshal(struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     corev1.PodSpec    `json:"spec"`
	}{pod.ObjectMeta, pod.Spec})
	if err != nil {
		t.Fatalf("marshal pod: %v", err)
	}
	return out
}
