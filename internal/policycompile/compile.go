// Package policycompile turns a CachePolicy into the agentapi.Policy document
// the operator pushes to agents and mounts as their bootstrap file.
//
// Compile is pure: everything it needs from the cluster (the warming keys
// of a ConfigMap) is passed in, so the document, and so its hash, depends
// only on its inputs. The paths it writes (Secrets, disk, snapshots) are
// the ones the injection webhook mounts.
package policycompile

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// Paths inside the agent container.
const (
	// DefaultDiskPath holds the disk tier unless the policy says otherwise.
	DefaultDiskPath = "/var/cache/layercache/disk"
	// DefaultSnapshotPath holds snapshots unless the policy says otherwise.
	DefaultSnapshotPath = "/var/cache/layercache/snapshots"
	// SecretsPath is where Secrets the policy references are mounted, as
	// <SecretsPath>/<secret name>/<key>.
	SecretsPath = "/var/run/layercache/secrets"
)

// Inputs is what Compile needs from the cluster besides the policy.
type Inputs struct {
	// WarmKeys are the keys read from spec.warming.keysFrom.
	WarmKeys []string
	// SnapshotPath is the file of the CacheSnapshot named by
	// spec.warming.fromSnapshot.
	SnapshotPath string
}

// Compile returns the agent policy for cp, generation and hash set. An
// error names the field to fix.
func Compile(cp *v1alpha1.CachePolicy, in Inputs) (agentapi.Policy, error) {
	s := &cp.Spec
	p := agentapi.Policy{Generation: cp.Generation, UID: string(cp.UID), Name: cp.Namespace + "/" + cp.Name}
	var errs []error
	dur := func(field string, d v1alpha1.Duration) agentapi.Duration {
		v, err := d.Parse()
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.%s: %w", field, err))
		}
		return agentapi.Duration(v)
	}
	if m := s.Layers.Memory; m != nil {
		p.Layers.Memory = agentapi.MemoryLayer{MaxEntries: int(m.MaxEntries), TTL: dur("layers.memory.ttl", m.TTL)}
		if m.MaxSize != nil {
			p.Layers.Memory.MaxBytes = m.MaxSize.Value()
		}
	}
	if r := s.Layers.Redis; r != nil && r.Enabled {
		rl := &agentapi.RedisLayer{
			Addr: r.Address, Username: r.Username, DB: int(r.DB), Prefix: r.KeyPrefix,
			TTL: dur("layers.redis.ttl", r.TTL), Compression: strings.ToLower(r.Compression),
		}
		if r.PasswordSecretRef != nil {
			rl.PasswordFile = SecretFile(*r.PasswordSecretRef)
		}
		if b := r.CircuitBreaker; b != nil {
			rl.Breaker = &agentapi.Breaker{
				ConsecutiveFailures: int(b.ConsecutiveFailures),
				FailureRatio:        float64(b.FailureRatioPercent) / 100,
				MinRequests:         int(b.MinimumRequests),
				OpenFor:             agentapi.Duration(int64(b.OpenSeconds) * 1e9),
				HalfOpenProbes:      int(b.HalfOpenMaxRequests),
			}
		}
		p.Layers.Redis = rl
	}
	if d := s.Layers.Disk; d != nil && d.Enabled {
		dl := &agentapi.DiskLayer{Dir: orDefault(d.Path, DefaultDiskPath), TTL: dur("layers.disk.ttl", d.TTL)}
		if d.MaxSize != nil {
			dl.MaxBytes = d.MaxSize.Value()
		}
		p.Layers.Disk = dl
	}
	if b := s.Layers.Bus; b != nil && b.Enabled {
		p.Bus = &agentapi.Bus{Channel: b.Channel}
		if b.SecretRef != nil {
			p.Bus.SecretFile = SecretFile(*b.SecretRef)
		}
	}
	if f := s.Freshness; f != nil {
		p.Freshness = agentapi.Freshness{
			TTL:                  dur("freshness.ttl", f.TTL),
			StaleWhileRevalidate: dur("freshness.staleWhileRevalidate", f.StaleWhileRevalidate),
			StaleIfError:         dur("freshness.staleIfError", f.StaleIfError),
			NegativeTTL:          dur("freshness.negativeTTL", f.NegativeTTL),
			Jitter:               dur("freshness.jitter", f.Jitter),
		}
	}
	for i, o := range s.Origins {
		p.Origins = append(p.Origins, agentapi.Origin{
			KeyPattern:  o.KeyPattern,
			URLTemplate: o.URLTemplate,
			Timeout:     dur(fmt.Sprintf("origins[%d].timeout", i), o.Timeout),
			TTL:         dur(fmt.Sprintf("origins[%d].ttl", i), o.TTL),
			Tags:        o.Tags,
		})
	}
	if w := s.Warming; w != nil {
		p.Warming = agentapi.Warming{
			Keys:          append(append([]string(nil), w.Keys...), in.WarmKeys...),
			Snapshot:      in.SnapshotPath,
			Concurrency:   int(w.Concurrency),
			ReadinessGate: w.BlockReadiness,
			Timeout:       agentapi.Duration(int64(w.TimeoutSeconds) * 1e9),
		}
	}
	if sn := s.Snapshots; sn != nil {
		p.Snapshots.Dir = orDefault(sn.Path, DefaultSnapshotPath)
	}
	if err := errors.Join(errs...); err != nil {
		return agentapi.Policy{}, err
	}
	if err := p.Validate(); err != nil {
		return agentapi.Policy{}, err
	}
	h, err := p.ComputeHash()
	if err != nil {
		return agentapi.Policy{}, fmt.Errorf("hash policy: %w", err)
	}
	p.Hash = h
	return p, nil
}

// SecretFile is where the injected agent finds the key of a Secret.
func SecretFile(ref v1alpha1.SecretKeyRef) string {
	return path.Join(SecretsPath, ref.Name, ref.Key)
}

// ParseKeyList reads one key per line; blank lines and lines starting with
// # are skipped, surrounding spaces trimmed.
func ParseKeyList(text string) []string {
	var keys []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		keys = append(keys, line)
	}
	return keys
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
