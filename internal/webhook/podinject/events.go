package podinject

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/layercache/layercache/api/v1alpha1"
)

// Reasons of the Warning events recorded for a labelled pod admitted
// without the agent.
const (
	// ReasonPolicyNotResolved: no CachePolicy, or several, could be chosen
	// for the pod.
	ReasonPolicyNotResolved = "PolicyNotResolved"
	// ReasonAgentTLSMissing: the namespace has no agent TLS Secret yet.
	ReasonAgentTLSMissing = "AgentTLSMissing"
)

// eventAction is the action of the injector's events.
const eventAction = "Inject"

// notInjected records why pod was admitted without the agent.
//
// A pod being created has no UID yet (the API server assigns it after
// mutating admission) and often no name (generateName), and an event
// cannot be tied to an object without them: kubectl describe finds events
// by the object's UID. So the event goes to the pod's controller (its
// ReplicaSet, Job, StatefulSet, ...), which is where a user looks when
// pods do not come up as expected, with the policy, when known, as the
// related object. A pod without a controller gets no event; the
// admission warning, shown by kubectl, is then the only signal. Dry-run
// requests record nothing.
func (w *Webhook) notInjected(req admission.Request, pod *corev1.Pod, policy *v1alpha1.CachePolicy, reason, msg string) {
	if w.Recorder == nil || (req.DryRun != nil && *req.DryRun) {
		return
	}
	regarding := eventTarget(pod)
	if regarding == nil {
		return
	}
	var related runtime.Object
	if policy != nil {
		related = policy
	}
	w.Recorder.Eventf(regarding, related, corev1.EventTypeWarning, reason, eventAction, "%s", msg)
}

// eventTarget is the object an event about pod can be tied to: the pod
// itself once it has a UID, else its controller, else nil.
func eventTarget(pod *corev1.Pod) runtime.Object {
	if pod.UID != "" {
		return pod
	}
	owner := metav1.GetControllerOfNoCopy(pod)
	if owner == nil {
		return nil
	}
	return &corev1.ObjectReference{
		APIVersion: owner.APIVersion,
		Kind:       owner.Kind,
		Name:       owner.Name,
		UID:        owner.UID,
		Namespace:  pod.Namespace,
	}
}
