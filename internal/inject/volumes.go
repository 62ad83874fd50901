package inject

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"path"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/policycompile"
)

// Volume names Inject adds; Secrets the policy references get
// volSecretPrefix followed by their name (or a hash of it).
const (
	volPolicy       = "lc-policy"
	volTLS          = "lc-tls"
	volDisk         = "lc-disk"
	volSnapshots    = "lc-snapshots"
	volSecretPrefix = "lc-secret-"
)

// mount is one volume of the agent and where it is mounted.
type mount struct {
	volume corev1.Volume
	dir    string
	// readOnly: everything but the tiers' own directories.
	readOnly bool
}

// planMounts lists the agent's volumes, in a stable order: the bootstrap
// policy, the TLS material, the disk tier and snapshots when the policy
// uses them, then the Secrets it references, by name. The paths are the
// ones policycompile writes into the compiled policy.
func planMounts(policy *v1alpha1.CachePolicy, cfg Config) []mount {
	ms := []mount{
		{volume: configMapVolume(volPolicy, v1alpha1.BootstrapConfigMapName(policy.Name)), dir: PolicyDir, readOnly: true},
		{volume: secretVolume(volTLS, v1alpha1.AgentTLSSecret, nil), dir: TLSDir, readOnly: true},
	}
	layers := policy.Spec.Layers
	diskPath := ""
	if d := layers.Disk; d != nil && d.Enabled {
		diskPath = orDefault(d.Path, policycompile.DefaultDiskPath)
		limit := cfg.DiskSizeLimit.DeepCopy()
		if d.MaxSize != nil && d.MaxSize.Cmp(limit) > 0 {
			limit = d.MaxSize.DeepCopy()
		}
		ms = append(ms, mount{volume: emptyDirVolume(volDisk, &limit), dir: diskPath})
	}
	// Without a size limit: a snapshot's size is not known in advance, and
	// evicting the pod mid-snapshot would lose the cache it exports. A
	// snapshot directory equal to the disk tier's shares its volume.
	if sn := policy.Spec.Snapshots; sn != nil {
		if p := orDefault(sn.Path, policycompile.DefaultSnapshotPath); diskPath == "" || path.Clean(p) != path.Clean(diskPath) {
			ms = append(ms, mount{volume: emptyDirVolume(volSnapshots, nil), dir: p})
		}
	}
	secrets := referencedSecrets(policy)
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		ms = append(ms, mount{
			volume:   secretVolume(secretVolumeName(name), name, slices.Sorted(maps.Keys(secrets[name]))),
			dir:      path.Join(policycompile.SecretsPath, name),
			readOnly: true,
		})
	}
	return ms
}

// referencedSecrets returns the keys of each Secret the compiled policy
// points the agent to: the same conditions as policycompile.Compile, so a
// disabled layer's Secret is not required to exist.
func referencedSecrets(policy *v1alpha1.CachePolicy) map[string]map[string]struct{} {
	out := map[string]map[string]struct{}{}
	add := func(ref *v1alpha1.SecretKeyRef) {
		if ref == nil {
			return
		}
		if out[ref.Name] == nil {
			out[ref.Name] = map[string]struct{}{}
		}
		out[ref.Name][ref.Key] = struct{}{}
	}
	if r := policy.Spec.Layers.Redis; r != nil && r.Enabled {
		add(r.PasswordSecretRef)
	}
	if b := policy.Spec.Layers.Bus; b != nil && b.Enabled {
		add(b.SecretRef)
	}
	return out
}

// secretVolumeName is "lc-secret-<name>" when that is a valid volume name
// (a DNS label), else "lc-secret-" and a hash of the name: Secret names
// may be longer than a label and contain dots.
func secretVolumeName(secret string) string {
	if n := volSecretPrefix + secret; len(validation.IsDNS1123Label(n)) == 0 {
		return n
	}
	sum := sha256.Sum256([]byte(secret))
	return volSecretPrefix + hex.EncodeToString(sum[:8])
}

func configMapVolume(volume, name string) corev1.Volume {
	return corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}},
	}}
}

// secretVolume projects keys of Secret name (all of them when keys is
// nil), each as a file named after its key, so only what the agent reads
// is on its filesystem.
func secretVolume(volume, name string, keys []string) corev1.Volume {
	src := &corev1.SecretVolumeSource{SecretName: name}
	for _, k := range keys {
		src.Items = append(src.Items, corev1.KeyToPath{Key: k, Path: k})
	}
	return corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{Secret: src}}
}

func emptyDirVolume(volume string, limit *resource.Quantity) corev1.Volume {
	return corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: limit}}}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// volumeMounts returns the container's mounts of ms.
func volumeMounts(ms []mount) []corev1.VolumeMount {
	out := make([]corev1.VolumeMount, 0, len(ms))
	for _, m := range ms {
		out = append(out, corev1.VolumeMount{Name: m.volume.Name, MountPath: m.dir, ReadOnly: m.readOnly})
	}
	return out
}
