package podinject

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/internal/inject"
)

// MutatePath is where the webhook server serves the pod injector.
const MutatePath = "/mutate-v1-pod"

// recorderName is the reporting controller of the injector's events.
const recorderName = "layercache-injector"

// The webhook configuration and the permissions the injector needs. The
// object selector is what makes failurePolicy=fail safe: only pods
// labelled cache.layercache.io/inject=true wait for the webhook. sideEffects
// is NoneOnDryRun, not None: the webhook may record an event (on the pod's
// controller) when it admits a pod without the agent, and it records none
// for a dry-run request.
//
// +kubebuilder:webhook:path=/mutate-v1-pod,mutating=true,failurePolicy=fail,sideEffects=NoneOnDryRun,groups="",resources=pods,verbs=create,versions=v1,name=inject.cache.layercache.io,admissionReviewVersions=v1,reinvocationPolicy=IfNeeded,patch=`{"objectSelector":{"matchLabels":{"cache.layercache.io/inject":"true"}}}`
// +kubebuilder:rbac:groups=cache.layercache.io,resources=cachepolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Webhook is the mutating admission handler that injects the agent into
// labelled pods on CREATE. It is safe for concurrent use.
type Webhook struct {
	// Client reads CachePolicies and the agent TLS Secret's metadata.
	// Register gives it the manager's API reader: reads hit the API
	// server, so no Secret is ever cached in the operator, and a pod
	// created right after its policy still finds it.
	Client client.Reader
	// Config says how the agent is injected.
	Config inject.Config
	// Recorder, when set, records a Warning event when a labelled pod is
	// admitted without the agent (see notInjected for where it goes).
	Recorder events.EventRecorder
}

var _ admission.Handler = (*Webhook)(nil)

// Register mounts the injector at MutatePath on mgr's webhook server. cfg
// is checked now, so a misconfigured operator fails at start rather than
// on every pod.
func Register(mgr ctrl.Manager, cfg inject.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	wh := &Webhook{Client: mgr.GetAPIReader(), Config: cfg, Recorder: mgr.GetEventRecorder(recorderName)}
	mgr.GetWebhookServer().Register(MutatePath, &admission.Webhook{Handler: wh})
	return nil
}

// Handle injects the agent into a labelled pod being created.
//
// It refuses (denies) a pod only when inject.Inject does, that is when the pod
// itself is in the way, and fails (so the API server retries per the
// failure policy) only when reading the cluster fails. Everything that may
// heal by itself admits the pod without the agent and with a warning.
func (w *Webhook) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("layercache: only CREATE is mutated")
	}
	if req.Kind.Group != "" || req.Kind.Kind != "Pod" {
		return admission.Allowed("layercache: only pods are mutated")
	}
	var pod corev1.Pod
	if err := json.Unmarshal(req.Object.Raw, &pod); err != nil {
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("layercache: decode pod: %w", err))
	}
	// The webhook's object selector already filters on the label; checking
	// again keeps a too-wide configuration from injecting every pod.
	if pod.Labels[v1alpha1.LabelInject] != "true" {
		return admission.Allowed("layercache: pod not labelled for injection")
	}
	if pod.Annotations[v1alpha1.AnnotationInjectStatus] == inject.InjectedStatus {
		return admission.Allowed("layercache: agent already injected")
	}
	// A pod posted to a namespaced URL may leave metadata.namespace empty.
	lookup := pod
	if lookup.Namespace == "" {
		lookup.Namespace = req.Namespace
	}
	policy, warning, err := ResolvePolicy(ctx, w.Client, &lookup)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if policy == nil {
		w.notInjected(req, &lookup, nil, ReasonPolicyNotResolved, warning)
		return admission.Allowed("layercache: no policy").WithWarnings(warning)
	}
	warnings := nonEmpty(warning)
	ok, err := w.tlsSecretExists(ctx, lookup.Namespace)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if !ok {
		msg := fmt.Sprintf("layercache: agent not injected: Secret %s not found in namespace %s yet (the operator issues it); "+
			"recreate the pod once it exists", v1alpha1.AgentTLSSecret, lookup.Namespace)
		w.notInjected(req, &lookup, policy, ReasonAgentTLSMissing, msg)
		return admission.Allowed("layercache: no agent TLS Secret").WithWarnings(append(warnings, msg)...)
	}
	if _, err := inject.Inject(&pod, policy, w.Config); err != nil {
		return admission.Denied(err.Error())
	}
	raw, err := json.Marshal(&pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("layercache: encode pod: %w", err))
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, raw).WithWarnings(warnings...)
}

// tlsSecretExists reports whether the agent TLS Secret exists in ns. It
// reads only the Secret's metadata: the operator has no use for the key.
func (w *Webhook) tlsSecretExists(ctx context.Context, ns string) (bool, error) {
	meta := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}}
	err := w.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: v1alpha1.AgentTLSSecret}, meta)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("layercache: get Secret %s/%s: %w", ns, v1alpha1.AgentTLSSecret, err)
	}
	return true, nil
}

// nonEmpty returns s as a list, empty when s is.
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
