package inject

import (
	"fmt"
	"net"
	"path"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// Probe timing. The startup probe allows startupBaseSeconds, plus the
// warm-up timeout when the policy holds readiness until warming ends, so
// the kubelet does not restart an agent that is doing what it was told.
const (
	probeTimeoutSeconds    = 1
	probePeriodSeconds     = 5
	livenessPeriodSeconds  = 10
	probeFailureThreshold  = 3
	startupPeriodSeconds   = 2
	startupBaseSeconds     = 60
	defaultWarmTimeoutSecs = 300 // spec.warming.timeoutSeconds' default
)

// tlsCAKey is the key of the CA bundle in the agent TLS Secret.
const tlsCAKey = "ca.crt"

// anyAddress is where the admin API listens: the operator calls it on the
// pod's IP.
const anyAddress = "0.0.0.0"

// agentContainer builds the agent container: flags pointing at the mounted
// files, the admin and probe ports, probes, and a restricted security
// context (the agent needs no privilege and writes only to its volumes).
func agentContainer(policy *v1alpha1.CachePolicy, cfg Config, adminPort int32, mounts []mount) corev1.Container {
	c := corev1.Container{
		Name:            ContainerName,
		Image:           cfg.AgentImage,
		ImagePullPolicy: cfg.ImagePullPolicy,
		Args: []string{
			"--bootstrap-policy=" + path.Join(PolicyDir, v1alpha1.BootstrapKey),
			"--data-addr=" + agentapi.DefaultDataAddr,
			"--admin-addr=" + net.JoinHostPort(anyAddress, strconv.Itoa(int(adminPort))),
			"--probe-addr=" + agentapi.DefaultProbeAddr,
			"--tls-cert=" + path.Join(TLSDir, corev1.TLSCertKey),
			"--tls-key=" + path.Join(TLSDir, corev1.TLSPrivateKeyKey),
			"--client-ca=" + path.Join(TLSDir, tlsCAKey),
			"--client-uri=" + v1alpha1.OperatorURI,
		},
		Ports: []corev1.ContainerPort{
			{Name: PortAdminName, ContainerPort: adminPort, Protocol: corev1.ProtocolTCP},
			{Name: PortProbesName, ContainerPort: agentapi.ProbePort, Protocol: corev1.ProtocolTCP},
		},
		Resources:      *cfg.Resources.DeepCopy(),
		VolumeMounts:   volumeMounts(mounts),
		ReadinessProbe: httpProbe(agentapi.PathReadyz, probePeriodSeconds, probeFailureThreshold),
		LivenessProbe:  httpProbe(agentapi.PathHealthz, livenessPeriodSeconds, probeFailureThreshold),
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr.To(true),
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	if cfg.NativeSidecars {
		c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		c.StartupProbe = httpProbe(agentapi.PathReadyz, startupPeriodSeconds, startupFailureThreshold(policy))
	}
	return c
}

func httpProbe(p string, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
			Path: p, Port: intstr.FromString(PortProbesName), Scheme: corev1.URISchemeHTTP,
		}},
		TimeoutSeconds:   probeTimeoutSeconds,
		PeriodSeconds:    period,
		FailureThreshold: failures,
	}
}

// startupFailureThreshold is how many failed startup probes the agent is
// allowed: startupBaseSeconds, plus the warm-up timeout when readiness
// waits for warming.
func startupFailureThreshold(policy *v1alpha1.CachePolicy) int32 {
	secs := int32(startupBaseSeconds)
	if w := policy.Spec.Warming; w != nil && w.BlockReadiness {
		warm := w.TimeoutSeconds
		if warm <= 0 {
			warm = defaultWarmTimeoutSecs
		}
		secs += warm
	}
	return (secs + startupPeriodSeconds - 1) / startupPeriodSeconds
}

// adminPort is the port the agent's admin API listens on, chosen as the
// operator chooses the port it calls (agentconn.PodAddress): the pod's
// cache.layercache.io/admin-port annotation, else the policy's adminPort,
// else agentapi.AdminPort.
func adminPort(pod *corev1.Pod, policy *v1alpha1.CachePolicy) (int32, error) {
	if s, ok := pod.Annotations[v1alpha1.AnnotationAdminPort]; ok {
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 1 || p > 65535 {
			return 0, fmt.Errorf("podinject: annotation %s=%q is not a port", v1alpha1.AnnotationAdminPort, s)
		}
		return int32(p), nil
	}
	if policy.Spec.AdminPort > 0 {
		return policy.Spec.AdminPort, nil
	}
	return agentapi.AdminPort, nil
}
