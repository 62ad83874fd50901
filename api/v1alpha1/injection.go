package v1alpha1

// Names shared by the injection webhook, the manual injector, the PKI and
// the CachePolicy controller: a pod and its agent meet the operator through
// these.
const (
	// LabelInject set to "true" on a pod asks the webhook to add the agent.
	// The webhook's object selector matches only this label, so its
	// failurePolicy cannot affect other pods.
	LabelInject = "cache.layercache.io/inject"
	// AnnotationPolicy on a pod names the CachePolicy its agent follows.
	// Without it, the webhook picks the one policy whose selector matches
	// the pod.
	AnnotationPolicy = "cache.layercache.io/policy"
	// AnnotationInjectStatus marks a pod the webhook has mutated
	// ("injected"), so that it never injects twice.
	AnnotationInjectStatus = "cache.layercache.io/inject-status"
	// AnnotationAgentVersion records the agent image injected.
	AnnotationAgentVersion = "cache.layercache.io/agent-version"

	// AgentTLSSecret is the Secret, in each namespace that has a
	// CachePolicy, holding the agents' admin serving certificate (tls.crt,
	// tls.key) and the CA bundle operator client certificates chain to
	// (ca.crt).
	AgentTLSSecret = "layercache-agent-tls"
	// OperatorURI is the URI SAN of the operator's client certificate;
	// injected agents accept admin calls only from it.
	OperatorURI = "spiffe://layercache/operator"
)

// BootstrapKey is the key of a policy's bootstrap ConfigMap that holds the
// compiled policy; the injected agent reads it at start (--bootstrap-policy),
// so a restarted agent works while the operator is down.
const BootstrapKey = "policy.json"

// BootstrapConfigMapName is the name of the bootstrap ConfigMap the operator
// keeps for a policy.
func BootstrapConfigMapName(policy string) string { return policy + "-agent-config" }
